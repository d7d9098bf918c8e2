#!/usr/bin/env python3
"""End-to-end: the README's "Install on a real server" steps, taken from
README.md itself (the block between the install-steps markers), run line by
line into a throw-away root, then checked as an administrator would: files
with their modes and owners, a working store, the systemd units installed,
enabled and valid, Dovecot's effective configuration, and make uninstall
leaving nothing behind.  TAP output.

How each README line is run (any other line fails the test, so a new step
cannot be added to the README without being run here):
  autoreconf ... ./configure ARGS   not re-run (the suite's build is used);
                                    ARGS must be what that build was
                                    configured with
  make && make install              in the build tree, DESTDIR=ROOT
  ... useradd ...                   as written, twice: the real omamori user
                                    (the test stack uses it too)
  systemctl daemon-reload           skipped: nothing is installed for real
  systemctl enable --now UNITS      systemctl --root=ROOT enable UNITS (no
                                    start in a throw-away root)
  anything else                     with /etc, /var, /usr, /run moved under
                                    ROOT, omamorictl from ROOT with the
                                    installed omamori.conf relocated there
"""
import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import BUILDDIR, SRCDIR, Tap, check, require_root  # noqa: E402

tap = Tap()
BEGIN, END = "<!-- install-steps: begin -->", "<!-- install-steps: end -->"
UNITS = ("omamori-scand.service", "omamori-policyd.service", "omamori-web.service",
         "omamori-cron.service", "omamori-cron.timer")
SYSTEM_PATH = re.compile(r"(?<![\w./-])/(etc|var|usr|run)/")


class Install:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="omamori-install-")
        os.chmod(self.tmp, 0o755)
        self.root = os.path.join(self.tmp, "root")
        os.mkdir(self.root)
        self.conf = os.path.join(self.tmp, "omamori-relocated.conf")
        self.steps = readme_steps()
        self.outputs = {}
        self.debian_junk = None

    def rooted(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def relocate(self, line):
        line = SYSTEM_PATH.sub(lambda m: self.root + m.group(0), line)
        return re.sub(r"(^|&& )omamorictl ",
                      lambda m: "%s%s -c %s " % (m.group(1), self.rooted("/usr/bin/omamorictl"),
                                                 self.conf), line)

    def relocate_conf(self):
        """The installed omamori.conf with its paths under ROOT."""
        with open(self.rooted("/etc/omamori/omamori.conf")) as f:
            text = f.read()
        with open(self.conf, "w") as f:
            f.write(SYSTEM_PATH.sub(lambda m: self.root + m.group(0), text))


def readme_steps():
    with open(os.path.join(SRCDIR, "README.md")) as f:
        text = f.read()
    check(BEGIN in text and END in text, "README.md lacks the install-steps markers")
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return [l.strip() for l in block.splitlines() if l.strip() and not l.startswith("```")]


def sh(cmd, cwd, env=None):
    proc = subprocess.run(["bash", "-ec", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    check(proc.returncode == 0, "%r failed (%d):\n%s" % (cmd, proc.returncode, proc.stdout[-3000:]))
    return proc.stdout


def make_env():
    """The environment without make check's jobserver."""
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def step(inst, prefix):
    lines = [l for l in inst.steps if l.startswith(prefix) or prefix in l.split("||")[-1]]
    check(len(lines) == 1, "README install steps have %d lines for %r" % (len(lines), prefix))
    return lines[0]


def doveconf_inbox(conf):
    out = subprocess.run(["doveconf", "-c", conf, "-n"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, check=True).stdout
    boxes, box = {}, None
    for line in out.splitlines():
        m = re.match(r"\s*mailbox (\S+) \{", line)
        if m:
            box = m.group(1)
        m = re.match(r"\s*special_use =\s*(.*)", line)
        if m and box is not None:
            boxes[box] = m.group(1).strip()
    return boxes


def mode_owner(path):
    st = os.stat(path)
    return stat.S_IMODE(st.st_mode), pwd.getpwuid(st.st_uid).pw_name, st.st_gid


@tap.case
def configure_line_is_the_tested_build(inst):
    line = inst.steps[0]
    check(line.startswith("autoreconf -fi && ./configure "), "first step: %r" % line)
    args = line.split("./configure ", 1)[1].split()
    built = subprocess.run([os.path.join(BUILDDIR, "config.status"), "--config"],
                           stdout=subprocess.PIPE, text=True, check=True).stdout
    for arg in args:
        check(arg in shlex.split(built), "the build was not configured with %s: %s" % (arg, built))


@tap.case
def make_install_into_root(inst):
    line = inst.steps[1]
    check(line == "make && make install", "second step: %r" % line)
    sh("make -s && make -s install DESTDIR=%s" % inst.root, BUILDDIR, make_env())
    inst.relocate_conf()


@tap.case
def useradd_line_runs_twice(inst):
    line = step(inst, "useradd ")
    for _ in range(2):
        sh(line, SRCDIR)
    check(pwd.getpwnam("omamori").pw_shell == "/usr/sbin/nologin", "omamori has a login shell")
    # omamori-web: a user of its own, in group omamori (the store)
    check(pwd.getpwnam("omamori-web").pw_shell == "/usr/sbin/nologin", "omamori-web has a shell")
    check("omamori-web" in grp.getgrnam("omamori").gr_mem, "omamori-web is not in group omamori")


@tap.case
def every_other_step_runs(inst):
    # Debian's own Dovecot configuration, for the conf.d step
    shutil.copytree("/etc/dovecot", inst.rooted("/etc/dovecot"), symlinks=True)
    inst.debian_junk = doveconf_inbox(inst.rooted("/etc/dovecot/dovecot.conf")).get("Junk")
    for line in inst.steps[2:]:
        if "useradd " in line:
            continue
        if line == "systemctl daemon-reload":
            continue
        m = re.match(r"systemctl enable --now (.*)$", line)
        if m:
            sh("systemctl --root=%s enable %s" % (inst.root, m.group(1)), SRCDIR)
            continue
        check(not line.startswith(("make", "systemctl", "autoreconf")),
              "README step the test does not know how to run: %r" % line)
        inst.outputs[line] = sh(inst.relocate(line), SRCDIR)


@tap.case
def programs_config_and_store_in_place(inst):
    for path in ("/usr/sbin/omamori-scand", "/usr/sbin/omamori-policyd",
                 "/usr/sbin/omamori-web", "/usr/bin/omamorictl"):
        check(mode_owner(inst.rooted(path))[:2] == (0o755, "root"), "%s: %r" %
              (path, mode_owner(inst.rooted(path))))
    conf = inst.rooted("/etc/omamori/omamori.conf")
    check(mode_owner(conf)[:2] == (0o644, "root"), "omamori.conf: %r" % (mode_owner(conf),))
    with open(conf) as f:
        text = f.read()
    check("store_path = /var/lib/omamori/omamori.db" in text, "installed omamori.conf:\n" + text)
    check(os.path.isfile(inst.rooted("/usr/share/omamori/templates/ja/virus-report.txt")),
          "templates missing")
    plugins = [n for _, _, names in os.walk(inst.rooted("/usr/lib")) for n in names
               if n.endswith("omamori_plugin.so") or n.endswith("omamori_deliver_plugin.so")]
    check(len(plugins) == 3, "plugins: %r" % plugins)
    gid = pwd.getpwnam("omamori").pw_gid
    check(mode_owner(inst.rooted("/var/lib/omamori")) == (0o2770, "omamori", gid),
          "/var/lib/omamori: %r" % (mode_owner(inst.rooted("/var/lib/omamori")),))
    db = inst.rooted("/var/lib/omamori/omamori.db")
    check(mode_owner(db) == (0o660, "omamori", gid), "omamori.db: %r" % (mode_owner(db),))
    # policyd's socket directory in Postfix's spool: omamori's, reachable
    # by Postfix's group only
    spool = inst.rooted("/var/spool/postfix/omamori")
    check(mode_owner(spool) == (0o750, "omamori", grp.getgrnam("postfix").gr_gid),
          "%s: %r" % (spool, mode_owner(spool)))
    # the web's token key: made by init, readable by omamori-web's user only
    key = inst.rooted("/etc/omamori/web.key")
    check(mode_owner(key)[:2] == (0o600, "omamori-web"), "web.key: %r" % (mode_owner(key),))
    # the isolation key pair (doc/attachments.md): the same, and the
    # directory of isolated files, scand's, read by omamori-web's group
    key = inst.rooted("/etc/omamori/isolate.key")
    check(mode_owner(key)[:2] == (0o600, "omamori-web"), "isolate.key: %r" % (mode_owner(key),))
    iso = inst.rooted("/var/lib/omamori/isolated")
    check(mode_owner(iso)[:2] == (0o2750, "omamori"), "%s: %r" % (iso, mode_owner(iso)))
    init = [out for line, out in inst.outputs.items() if "omamorictl init" in line]
    check(init and "ready (schema version" in init[0], "omamorictl init said %r" % init)
    # the installed Japanese prior (the set's train half), learned as words
    check("learned the words of 78 spam and 77 ham" in init[0],
          "omamorictl prior said %r" % init)
    out = sh("%s -c %s sub set taro@example.jp inbound-virus on" %
             (inst.rooted("/usr/bin/omamorictl"), inst.conf), SRCDIR)
    check("on" in out, out)


@tap.case
def units_installed_enabled_and_valid(inst):
    unitdir = inst.rooted("/usr/lib/systemd/system")
    verify = os.path.join(inst.tmp, "verify")
    os.mkdir(verify)
    for unit in UNITS:
        path = os.path.join(unitdir, unit)
        check(mode_owner(path)[0] == 0o644, "%s: %r" % (unit, mode_owner(path)))
        with open(path) as f:
            text = f.read()
        for exe in re.findall(r"^ExecStart=(\S+)", text, re.M):
            check(os.access(inst.rooted(exe), os.X_OK), "%s starts %s, not installed" % (unit, exe))
        # systemd-analyze checks that ExecStart exists: point it into ROOT
        with open(os.path.join(verify, unit), "w") as f:
            f.write(re.sub(r"^ExecStart=/", "ExecStart=%s/" % inst.root, text, flags=re.M))
    with open(os.path.join(unitdir, "omamori-scand.service")) as f:
        scand = f.read()
    for want in ("Group=omamori", "RuntimeDirectory=omamori omamori/tmp",
                 "RuntimeDirectoryMode=0750"):
        check(want in scand.splitlines(), "scand unit lacks %s" % want)
    # every daemon starts as root (its keys, its socket) and drops itself
    for unit in ("omamori-scand.service", "omamori-policyd.service", "omamori-web.service"):
        with open(os.path.join(unitdir, unit)) as f:
            check("User=" not in f.read(), "%s must start as root (it drops privileges)" % unit)
    with open(os.path.join(unitdir, "omamori-cron.timer")) as f:
        check("OnCalendar=minutely" in f.read(), "timer not minutely")
    wants = inst.rooted("/etc/systemd/system")
    for target, unit in (("multi-user", "omamori-scand.service"),
                         ("multi-user", "omamori-policyd.service"),
                         ("multi-user", "omamori-web.service"), ("timers", "omamori-cron.timer")):
        link = os.path.join(wants, target + ".target.wants", unit)
        check(os.path.islink(link), "%s not enabled" % unit)
    if shutil.which("systemd-analyze"):
        proc = subprocess.run(["systemd-analyze", "verify"] +
                              [os.path.join(verify, u) for u in UNITS],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(proc.returncode == 0 and proc.stdout.strip() == "", "systemd-analyze: " + proc.stdout)


@tap.case
def dovecot_shows_one_junk_folder(inst):
    check(inst.debian_junk == "\\Junk", "Debian's Junk was %r before omamori" % inst.debian_junk)
    boxes = doveconf_inbox(inst.rooted("/etc/dovecot/dovecot.conf"))
    check(boxes.get("Quarantine") == "\\Junk", "Quarantine: %r" % boxes)
    check(boxes.get("Junk") == "", "Junk keeps %r" % boxes.get("Junk"))


@tap.case
def uninstall_leaves_nothing_behind(inst):
    sh("systemctl --root=%s disable %s" % (inst.root, " ".join(UNITS)), SRCDIR)
    sh("make -s uninstall DESTDIR=%s" % inst.root, BUILDDIR, make_env())
    # what stays is the administrator's: the store, the web and isolation
    # keys made by omamorictl init (links already mailed stay valid and
    # isolated files readable across a reinstall) and Dovecot's
    # configuration
    etc = inst.rooted("/etc/omamori")
    check(sorted(os.listdir(etc)) == ["isolate.key", "web.key"],
          "left in /etc/omamori: %r" % os.listdir(etc))
    keep = (inst.rooted("/var/lib/omamori"), inst.rooted("/etc/dovecot"),
            inst.rooted("/var/spool/postfix/omamori"), etc)
    left = []
    for top, dirs, names in os.walk(inst.root):
        if top.startswith(keep):
            continue
        left += [os.path.join(top, n) for n in names]
        left += [os.path.join(top, d) for d in dirs
                 if "omamori" in d and not os.path.join(top, d).startswith(keep)]
    check(not left, "left after make uninstall: %r" % left)


def main():
    require_root()
    inst = Install()
    try:
        return tap.run(inst)
    finally:
        if not os.environ.get("OMAMORI_KEEP"):
            shutil.rmtree(inst.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
