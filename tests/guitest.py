"""What the GUI tests share: running the app on a test script (AR_TEST_SCRIPT), and acting on
its real window from outside: the environment of the app running a given script (the
display xvfb-run chose), and xdotool clicks and keys at the positions that the script's
"geometry" commands print."""
import os
import re
import subprocess
import time

# the app under a virtual X server of its own
XVFB = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"]


def run_xvfb(exe, env, timeout):
    """Runs @exe under Xvfb with @env (AR_TEST_SCRIPT in it) until it exits, at most @timeout
    seconds.  Returns (exit status, -1 on time-out; its "test: " lines; stdout; stderr)."""
    try:
        r = subprocess.run(XVFB + [exe], env=env, capture_output=True, text=True, timeout=timeout)
        out, err, code = r.stdout, r.stderr, r.returncode
    except subprocess.TimeoutExpired as e:
        out, err, code = e.stdout or "", e.stderr or "", -1
        out, err = (x.decode() if isinstance(x, bytes) else x for x in (out, err))
    return code, [l for l in out.splitlines() if l.startswith("test: ")], out, err


def write_script(path, lines):
    """@path holding the test script @lines, one command a line."""
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def shot_paths(tmp, names):
    """The screenshot path of each of @names: NAME.png in $AR_GUI_SHOTS when it is set (the
    documentation's images), else in @tmp."""
    shots_dir = os.environ.get("AR_GUI_SHOTS") or tmp
    return {k: os.path.join(shots_dir, k + ".png") for k in names}


def run_app(cmd, script_lines, tmp, env, name, driver=None, cwd=None, limit=300):
    """Runs @cmd (ending with the app and its files) on @script_lines, written to
    @tmp/@name.txt; @driver is called with each stdout line; the app is stopped after @limit
    seconds.  Returns (its "test: " lines, exit status, stderr)."""
    script = os.path.join(tmp, name + ".txt")
    write_script(script, script_lines)
    env = dict(env, AR_TEST_SCRIPT=script)
    lines = []
    err_path = os.path.join(tmp, name + ".stderr")
    try:
        with open(err_path, "w") as errf:
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=errf, text=True, cwd=cwd)
            t0 = time.monotonic()
            for line in p.stdout:
                lines.append(line.rstrip("\n"))
                if driver:
                    driver(line.rstrip("\n"))
                if time.monotonic() - t0 > limit:
                    p.kill()
                    break
            code = p.wait(timeout=60)
    except (subprocess.TimeoutExpired, OSError) as e:
        return lines, -1, str(e)
    with open(err_path) as f:
        err = f.read()
    return [l for l in lines if l.startswith("test: ")], code, err


def app_env(script, keys=("DISPLAY", "XAUTHORITY")):
    """@keys of the environment of the app running @script (xvfb-run and dbus-run-session
    chose them); {} while no such process is found."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % pid, "rb") as f:
                envs = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
        except OSError:
            continue
        if envs.get(b"AR_TEST_SCRIPT") == script.encode() and b"DISPLAY" in envs:
            return {k: envs[k.encode()].decode() for k in keys if k.encode() in envs}
    return {}


class Pointer:
    """xdotool on the window of the app running @script: feed() it every line the app
    prints (it keeps the "geometry" positions, relative to the window, in geo), attach()
    once the window is up, then click() and xdo(); log holds every xdotool call."""

    def __init__(self, script):
        self.script = script
        self.geo = {}
        self.log = []
        self.env = None
        self.ox = self.oy = 0

    def feed(self, line):
        m = re.match(r"test: geometry: ok (\S+) (-?\d+) (-?\d+)", line)
        if m:
            self.geo[m.group(1)] = (int(m.group(2)), int(m.group(3)))

    def ready(self, line, name="ready-"):
        """feed() @line; when it says the script touched @name followed by a digit N, attach()
        and return N, else None."""
        self.feed(line)
        m = re.match(r"test: touch: ok .*/%s(\d)" % re.escape(name), line)
        if not m:
            return None
        self.attach()
        return int(m.group(1))

    def xdo(self, *args):
        r = subprocess.run(["xdotool"] + list(args), capture_output=True, text=True,
                           env=dict(os.environ, **(self.env or {})))
        self.log.append("xdotool %s -> %s%s" % (" ".join(args), r.stdout.strip(), r.stderr.strip()))
        return r.stdout

    def attach(self):
        """Finds the app's display and its window's position on the screen (the first time)."""
        if self.env is not None:
            return
        self.env = app_env(self.script)
        win = self.xdo("search", "--name", "3D Anatomy Reconstruction").split()
        g = self.xdo("getwindowgeometry", win[0]) if win else ""
        m = re.search(r"Position: (-?\d+),(-?\d+)", g)
        self.ox, self.oy = (int(m.group(1)), int(m.group(2))) if m else (0, 0)

    def click(self, x, y, settle=0.5):
        """A left click at (@x, @y) of the window, then @settle seconds for the app."""
        self.xdo("mousemove", str(self.ox + x), str(self.oy + y))
        time.sleep(0.2)
        self.xdo("click", "1")
        time.sleep(settle)
