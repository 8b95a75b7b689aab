"""TAP output for the Python tests: numbered "ok" / "not ok" lines with "# " diagnostics,
skips, and the end of a run, which keeps the test's files when anything failed."""
import shutil
import sys


class _Run:
    n = 0          # tests reported so far
    failed = False


def ok(cond, name, diag=""):
    """Reports test @name as passed when @cond holds; @diag (any text) follows as comments."""
    _Run.n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (_Run.n, name))
    if diag:
        for line in str(diag).splitlines():
            print("# " + line)
    _Run.failed = _Run.failed or not cond
    sys.stdout.flush()


def report(cond, name, diag="", max_lines=40):
    """ok() that shows the first @max_lines of @diag only when the test fails."""
    ok(cond, name, "" if cond else "\n".join(str(diag).splitlines()[:max_lines]))


def skip(name, why):
    """Reports test @name as skipped, for the reason @why."""
    _Run.n += 1
    print("ok %d - %s # SKIP %s" % (_Run.n, name, why))
    sys.stdout.flush()


def failed():
    """Whether any test so far has failed."""
    return _Run.failed


def count():
    """How many tests were reported so far."""
    return _Run.n


def finish(tmp):
    """The exit status of the run; removes the folder @tmp when every test passed, else
    keeps it and says where it is."""
    if not _Run.failed:
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print("# files kept in " + tmp)
    return 1 if _Run.failed else 0
