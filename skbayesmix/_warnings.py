"""Warning suppression that concurrent fits cannot garble."""

import contextlib
import threading
import warnings

# warnings.catch_warnings saves the process-wide filter list on entry and puts
# it back on exit. Two threads inside such blocks at once can each put back the
# other's list, leaving an 'ignore' filter in place for good (Python < 3.14 has
# no thread-local filters). Every block that skbayesmix enters during a fit takes
# this lock; reentrant, because the blocks may nest within one thread.
_filters_lock = threading.RLock()


@contextlib.contextmanager
def ignored_warnings(*categories):
    """Ignore warnings of the given categories (every warning if none) in a block.

    Blocks of different threads run one at a time, so the filters the caller had
    are restored whatever the other threads do with this function. Code outside
    skbayesmix that changes the filters from another thread is not covered.
    """
    with _filters_lock, warnings.catch_warnings():
        for category in categories or (Warning,):
            warnings.simplefilter("ignore", category)
        yield
