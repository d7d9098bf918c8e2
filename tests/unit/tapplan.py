"""tapplan.py - the TAP plan of the Python unit tests (store-pg.py,
test-migrate.py, test-urls-cli.py): ok() numbers and prints each case
as it comes (a label's line ends become " | "), done() prints the plan
and gives the exit status."""
_count = 0
_failed = 0


def ok(cond, label):
    global _count, _failed
    _count += 1
    _failed += not cond
    print("%sok %d - %s" % ("" if cond else "not ", _count, str(label).replace("\n", " | ")),
          flush=True)


def done():
    """Prints the plan; 1 if a case failed, else 0."""
    print("1..%d" % _count)
    return 1 if _failed else 0
