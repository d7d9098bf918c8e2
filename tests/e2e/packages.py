#!/usr/bin/env python3
"""End-to-end: omamori's Debian packages, as an administrator gets them
(issue 20, doc/packaging.md).

From a copy of the source tree, `dpkg-buildpackage -us -uc -b` builds the six
packages; lintian must find no error and no warning.  A fresh Debian 12 root
is made with debootstrap (from Debian's own archive, the one apt uses here:
a chroot, not a container - systemd cannot run as PID 1 on these machines,
so the daemons are started with their units' own command lines, users and
runtime directories).  Into it the packages are installed with apt, which
creates the users, /var/lib/omamori and the store; then an EICAR mail and a
clean one go through the installed omamori-scand, omamori-policyd answers a
policy request on its socket, the store is taken back to an old schema and
the package reinstalled (an upgrade migrates it and keeps its rows), and
purge removes what the install made.  Every man page renders with
`man --warnings` and says nothing.  TAP.

OMAMORI_DEBOOTSTRAP_CACHE=FILE.tar keeps the debootstrapped root between
runs (made once, unpacked after); unset, debootstrap runs every time.
"""
import glob
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from omtest import EICAR, SRCDIR, Tap, check, require_root  # noqa: E402

tap = Tap()
PACKAGES = ("omamori-common", "omamori-scand", "omamori-policyd", "omamori-filter",
            "omamori-web", "dovecot-omamori")
MIRROR = "http://deb.debian.org/debian"
APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8",
               PATH="/usr/sbin:/usr/bin:/sbin:/bin")


class Lab:
    """The temporary directory, the built packages and the root."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="omamori-deb-")
        self.src = os.path.join(self.tmp, "src", "omamori")
        self.root = os.path.join(self.tmp, "root")
        self.debs = []
        self.mounts = []
        self.daemons = []

    def run(self, argv, timeout=1200, env=None, cwd=None):
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                           env=env, cwd=cwd)
        return p.returncode, p.stdout + p.stderr

    def inside(self, *argv, timeout=600):
        """A command in the root, as root."""
        return self.run(["chroot", self.root] + list(argv), timeout=timeout, env=APT_ENV)

    def close(self):
        for proc in self.daemons:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
        if not any(os.path.ismount(m) for m in self.mounts):
            shutil.rmtree(self.tmp, ignore_errors=True)


def copy_source(lab):
    skip = shutil.ignore_patterns(".git", "_build*", "autom4te.cache", "*.o", "*.lo",
                                  ".libs", ".deps", "node_modules")
    shutil.copytree(SRCDIR, lab.src, ignore=skip, symlinks=True)


@tap.case
def the_packages_build(lab):
    copy_source(lab)
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noddebs parallel=%d" % (os.cpu_count() or 2))
    rc, out = lab.run(["dpkg-buildpackage", "-us", "-uc", "-b"], env=env, cwd=lab.src,
                      timeout=3000)
    check(rc == 0, "dpkg-buildpackage failed:\n" + out[-3000:])
    parent = os.path.dirname(lab.src)
    for name in PACKAGES:
        found = glob.glob(os.path.join(parent, name + "_*.deb"))
        check(len(found) == 1, "%s: no package built" % name)
        lab.debs.append(found[0])


@tap.case
def lintian_finds_no_error_or_warning(lab):
    changes = glob.glob(os.path.join(os.path.dirname(lab.src), "*.changes"))
    check(len(changes) == 1, "no .changes file")
    rc, out = lab.run(["lintian", "--fail-on", "error,warning", changes[0]], timeout=900)
    tags = [l for l in out.splitlines() if l[:2] in ("E:", "W:")]
    check(rc == 0 and not tags, "lintian:\n" + out[-3000:])


@tap.case
def every_man_page_renders_and_every_template_is_shipped(lab):
    pages = os.path.join(lab.tmp, "pages")
    for deb in lab.debs:
        rc, out = lab.run(["dpkg-deb", "-x", deb, pages])
        check(rc == 0, out)
    found = glob.glob(os.path.join(pages, "usr/share/man/man*/*"))
    names = sorted(os.path.basename(p) for p in found)
    for want in ("omamori.conf.5.gz", "omamorictl.8.gz", "omamori-scand.8.gz",
                 "omamori-policyd.8.gz", "omamori-filter.8.gz", "omamori-web.8.gz"):
        check(want in names, "no man page %s in the packages (have %s)" % (want, names))
    shipped = set(os.path.relpath(p, os.path.join(pages, "usr/share/omamori"))
                  for p in glob.glob(os.path.join(pages, "usr/share/omamori/templates/*/*")))
    for template in glob.glob(os.path.join(SRCDIR, "templates/*/*.txt")):
        name = os.path.relpath(template, SRCDIR)
        check(name in shipped, "%s is not in the packages" % name)
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    for page in found:
        p = subprocess.run(["man", "--warnings", "-l", page], capture_output=True,
                           text=True, env=env, timeout=60)
        check(p.returncode == 0 and p.stderr.strip() == "" and "NAME" in p.stdout,
              "%s: %s" % (page, p.stderr[:500]))


def make_root(lab):
    cache = os.environ.get("OMAMORI_DEBOOTSTRAP_CACHE", "")
    os.makedirs(lab.root)
    if cache and os.path.exists(cache):
        rc, out = lab.run(["tar", "-xf", cache, "-C", lab.root])
        check(rc == 0, out)
        return
    rc, out = lab.run(["debootstrap", "--variant=minbase", "bookworm", lab.root, MIRROR],
                      timeout=1800)
    check(rc == 0, "debootstrap failed:\n" + out[-2000:])
    if cache:
        lab.run(["tar", "-cf", cache, "-C", lab.root, "."])


def mount_root(lab):
    for what, where, args in (("proc", "proc", ["-t", "proc"]),
                              ("/dev", "dev", ["--bind"]),
                              ("/dev/pts", "dev/pts", ["--bind"])):
        target = os.path.join(lab.root, where)
        os.makedirs(target, exist_ok=True)
        rc, out = lab.run(["mount"] + args + [what, target])
        check(rc == 0, "mount %s: %s" % (where, out))
        lab.mounts.append(target)
    shutil.copy("/etc/resolv.conf", os.path.join(lab.root, "etc/resolv.conf"))
    # nothing starts a service while packages are installed (Debian's own way)
    rcd = os.path.join(lab.root, "usr/sbin/policy-rc.d")
    with open(rcd, "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(rcd, 0o755)


@tap.case
def an_upgrade_restarts_the_running_units_and_a_removal_stops_them(lab):
    # systemd cannot run here: the maintainer scripts are read instead
    for deb in lab.debs:
        name = os.path.basename(deb).split("_")[0]
        ctl = os.path.join(lab.tmp, "ctl-" + name)
        rc, out = lab.run(["dpkg-deb", "-e", deb, ctl])
        check(rc == 0, "dpkg-deb -e %s: %s" % (name, out))
        scripts = {}
        for script in ("preinst", "postinst", "prerm"):
            path = os.path.join(ctl, script)
            scripts[script] = open(path).read() if os.path.exists(path) else ""
        if name == "dovecot-omamori":
            continue
        check("deb-systemd-invoke stop" not in scripts["preinst"],
              "%s: its preinst stops units before an upgrade" % name)
        check("try-restart" in scripts["postinst"],
              "%s: its postinst does not restart running units" % name)
        check('"$1" = remove' in scripts["prerm"] and
              "deb-systemd-invoke stop" in scripts["prerm"],
              "%s: its prerm does not stop its units on removal" % name)
    common = open(os.path.join(lab.tmp, "ctl-omamori-common", "postinst")).read()
    check("deb-systemd-invoke start omamori-cron.timer" in common,
          "the cron timer is not started at install")


@tap.case
def apt_installs_them_into_a_fresh_root(lab):
    make_root(lab)
    mount_root(lab)
    debdir = os.path.join(lab.root, "tmp/debs")
    os.makedirs(debdir)
    for deb in lab.debs:
        shutil.copy(deb, debdir)
    rc, out = lab.inside("sh", "-c", "printf 'postfix postfix/main_mailer_type select "
                         "Internet Site\\npostfix postfix/mailname string mx.example.jp\\n' "
                         "| debconf-set-selections")
    check(rc == 0, "debconf: " + out)
    rc, out = lab.inside("apt-get", "update", "-q")
    check(rc == 0, "apt-get update:\n" + out[-2000:])
    debs = ["/tmp/debs/" + os.path.basename(d) for d in lab.debs]
    rc, out = lab.inside("apt-get", "install", "-y", "-q", "--no-install-recommends",
                         "postfix", *debs, timeout=1800)
    check(rc == 0, "apt-get install:\n" + out[-3000:])


def in_root(lab, path):
    return os.path.join(lab.root, path.lstrip("/"))


def user_in_root(lab, name):
    with open(in_root(lab, "/etc/passwd")) as f:
        for line in f:
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2]), int(fields[3])
    return None


@tap.case
def the_install_made_users_directories_the_store_and_enabled_units(lab):
    omamori = user_in_root(lab, "omamori")
    check(omamori is not None and user_in_root(lab, "omamori-web") is not None,
          "the omamori and omamori-web users were not made")
    with open(in_root(lab, "/etc/group")) as f:
        groups = {l.split(":")[0]: l.strip().split(":")[3].split(",") for l in f}
    check("omamori-web" in groups.get("omamori", []), "omamori-web is not in group omamori")
    for path, mode in (("/var/lib/omamori", 0o2770), ("/var/lib/omamori/isolated", 0o2750),
                       ("/var/lib/omamori/portal", 0o2750),
                       ("/var/spool/postfix/omamori", 0o750)):
        st = os.stat(in_root(lab, path))
        check(stat.S_IMODE(st.st_mode) == mode and st.st_uid == omamori[0],
              "%s: mode %o uid %d" % (path, stat.S_IMODE(st.st_mode), st.st_uid))
    db = os.stat(in_root(lab, "/var/lib/omamori/omamori.db"))
    check(db.st_uid == omamori[0] and stat.S_IMODE(db.st_mode) == 0o660, "the store's owner/mode")
    for key in ("web.key", "isolate.key", "zip.key"):
        st = os.stat(in_root(lab, "/etc/omamori/" + key))
        check(stat.S_IMODE(st.st_mode) & 0o077 == 0, "%s is readable by others" % key)
    rc, out = lab.inside("omamorictl", "sub", "set", "taro@example.jp", "inbound-virus", "on")
    check(rc == 0, "omamorictl sub set: " + out)
    for unit in ("omamori-scand.service", "omamori-policyd.service", "omamori-web.service",
                 "omamori-filter.service", "omamori-cron.timer"):
        wants = glob.glob(in_root(lab, "/etc/systemd/system/*.wants/" + unit))
        check(wants, "%s is not enabled" % unit)
    # the configuration of Postfix and Dovecot is the administrator's
    with open(in_root(lab, "/etc/postfix/main.cf")) as f:
        check("omamori" not in f.read(), "main.cf was changed")


@tap.case
def setup_print_gives_lines_postfix_and_dovecot_accept(lab):
    rc, out = lab.inside("omamorictl", "setup", "--print", "main")
    check(rc == 0 and "check_policy_service { unix:omamori/policy" in out, "setup main: " + out)
    for line in out.splitlines():
        if line and not line.startswith("#"):
            rc, err = lab.inside("postconf", "-e", line)
            check(rc == 0, "postconf -e %r: %s" % (line, err))
    rc, master = lab.inside("omamorictl", "setup", "--print", "master")
    check(rc == 0 and "omamori-reinject unix" in master, "setup master: " + master)
    with open(in_root(lab, "/etc/postfix/master.cf"), "a") as f:
        f.write(master)
    rc, out = lab.inside("postfix", "check")
    check(rc == 0, "postfix check: " + out)
    rc, out = lab.inside("postconf", "-n")
    check(rc == 0 and "unused parameter" not in out, "postconf -n: " + out[-2000:])
    rc, out = lab.inside("postconf", "-M", "omamori-reinject/unix")
    check(rc == 0 and "smtpd" in out, "master.cf service not read: " + out)
    rc, dovecot = lab.inside("omamorictl", "setup", "--print", "dovecot")
    check(rc == 0 and "omamori_config = /etc/omamori/omamori.conf" in dovecot, dovecot)
    with open(in_root(lab, "/etc/dovecot/conf.d/90-omamori.conf"), "w") as f:
        f.write(dovecot)
    rc, out = lab.inside("doveconf", "-n")
    check(rc == 0 and "omamori_deliver" in out and "omamori-auth" in out,
          "doveconf -n: " + out[-2000:])


def unit_settings(lab, unit):
    """The unit's [Service] keys (last wins, ExecStart split by blanks)."""
    keys = {}
    with open(in_root(lab, "/lib/systemd/system/" + unit)) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                keys[k] = v
    return keys


def unit_argv(keys):
    """setpriv's arguments for the unit's capability bounding set,
    no-new-privileges and user, as systemd would apply them (util-linux):
    a capability the program needs and the unit lacks fails here as it
    would under systemd."""
    argv = ["setpriv"]
    if "CapabilityBoundingSet" in keys:
        wanted = [c.lower()[4:] for c in keys["CapabilityBoundingSet"].split()]
        argv += ["--bounding-set=" + ",".join(["-all"] + ["+" + c for c in wanted])]
    if keys.get("NoNewPrivileges") == "yes":
        argv += ["--no-new-privs"]
    user = keys.get("User", "root")
    if user != "root":
        argv += ["--reuid=" + user, "--regid=" + keys.get("Group", user), "--init-groups"]
    return argv + keys["ExecStart"].split()


def apply_tmpfiles(lab):
    """The packages' tmpfiles.d directories ("d PATH MODE USER GROUP"), as
    systemd-tmpfiles makes them at boot."""
    for conf in glob.glob(in_root(lab, "/usr/lib/tmpfiles.d/omamori*.conf")):
        with open(conf) as f:
            for line in f:
                words = line.split()
                if len(words) < 5 or words[0] != "d":
                    continue
                path = in_root(lab, words[1])
                os.makedirs(path, exist_ok=True)
                uid = user_in_root(lab, words[3])[0]
                with open(in_root(lab, "/etc/group")) as g:
                    gid = [int(l.split(":")[2]) for l in g if l.split(":")[0] == words[4]][0]
                os.chown(path, uid, gid)
                os.chmod(path, int(words[2], 8))


def start_unit(lab, unit, ready_path):
    """The unit's command line, user and runtime directories, as systemd
    would start them (after the boot's tmpfiles.d); ready_path is a file
    the daemon makes when it is up, or a callable that answers True then."""
    apply_tmpfiles(lab)
    keys = unit_settings(lab, unit)
    user = keys.get("User", "root")
    uid, gid = user_in_root(lab, user) if user != "root" else (0, 0)
    if "Group" in keys:     # the runtime directories' group, as systemd makes them
        with open(in_root(lab, "/etc/group")) as g:
            gid = [int(l.split(":")[2]) for l in g if l.split(":")[0] == keys["Group"]][0]
    mode = int(keys.get("RuntimeDirectoryMode", "0755"), 8)
    for d in keys.get("RuntimeDirectory", "").split():
        path = in_root(lab, "/run/" + d)
        os.makedirs(path, exist_ok=True)
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    argv = ["chroot", lab.root] + unit_argv(keys)
    log = open(os.path.join(lab.tmp, unit + ".log"), "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=APT_ENV)
    lab.daemons.append(proc)
    if callable(ready_path):
        ready = ready_path
    else:
        def ready():
            return os.path.exists(in_root(lab, ready_path))
    deadline = time.time() + 120
    while time.time() < deadline and not ready():
        check(proc.poll() is None, "%s exited: %s" % (unit, open(log.name).read()[-2000:]))
        time.sleep(0.5)
    check(ready(), "%s is not up (%s): %s" % (unit, ready_path, open(log.name).read()[-2000:]))
    return proc


def write_signatures(lab):
    """The EICAR test signature, as tests/stack writes it (no ClamAV
    database is downloaded)."""
    sigdir = in_root(lab, "/var/lib/clamav")
    os.makedirs(sigdir, exist_ok=True)
    with open(os.path.join(sigdir, "omamori-test.ndb"), "w") as f:
        f.write("Omamori.Test.EICAR-1:0:*:%s\n" % EICAR.hex())


MAIL = ("From: a@example.net\nTo: taro@example.jp\nSubject: %s\n"
        "Message-ID: <%s@example.net>\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n"
        "hello\n--b\nContent-Type: application/octet-stream\n"
        "Content-Disposition: attachment; filename=a.bin\n\n%s\n--b--\n")


@tap.case
def a_mail_goes_through_the_installed_scanner(lab):
    write_signatures(lab)
    start_unit(lab, "omamori-scand.service", "/run/omamori/scand.sock")
    # started as its unit starts it, it reads the keys before it drops
    # to omamori (a unit that ran it as omamori could not)
    with open(os.path.join(lab.tmp, "omamori-scand.service.log")) as f:
        log = f.read()
    check("Permission denied" not in log and "instead" not in log,
          "scand under its unit could not read a key:\n" + log[-2000:])
    for name, body, want_rc, want in (("clean", "just data", 0, '"verdict":"clean"'),
                                      ("eicar", EICAR.decode(), 1, '"virus":"Omamori.Test.EICAR')):
        path = in_root(lab, "/tmp/%s.eml" % name)
        with open(path, "w") as f:
            f.write(MAIL % (name, name, body))
        rc, out = lab.inside("omamorictl", "scan", "--mailbox", "taro@example.jp",
                             "/tmp/%s.eml" % name, timeout=120)
        check(rc == want_rc and want in out, "%s mail: rc %d: %s" % (name, rc, out[-1000:]))


@tap.case
def the_installed_policyd_answers_postfix(lab):
    start_unit(lab, "omamori-policyd.service", "/var/spool/postfix/omamori/policy")
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(in_root(lab, "/var/spool/postfix/omamori/policy"))
    s.sendall(b"request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
              b"client_address=192.0.2.1\nsender=a@example.net\n"
              b"recipient=taro@example.jp\n\n")
    answer = b""
    while not answer.endswith(b"\n\n"):
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    s.close()
    check(answer.startswith(b"action="), "policyd's answer: %r" % answer)


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@tap.case
def the_other_daemons_start_under_their_units(lab):
    # the root shares this machine's network: omamori-web gets a free port
    port = free_loopback_port()
    conf = in_root(lab, "/etc/omamori/omamori.conf")
    with open(conf) as f:
        lines = [l for l in f if not l.startswith("web_listen")]
    with open(conf, "w") as f:
        f.writelines(lines + ["web_listen = 127.0.0.1:%d\n" % port])
    for unit, ready in (("omamori-filter.service", "/var/spool/postfix/omamori/filter"),
                        ("omamori-dedup.service", "/var/spool/postfix/omamori/dedup"),
                        ("omamori-submit.service", "/var/spool/postfix/omamori/submit"),
                        ("omamori-web.service", lambda: accepts(port))):
        start_unit(lab, unit, ready)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /login HTTP/1.0\r\nHost: localhost\r\n\r\n")
        answer = s.recv(4096)
    check(answer.startswith(b"HTTP/1.") and b" 200 " in answer.split(b"\r\n")[0],
          "omamori-web's /login: %r" % answer[:200])
    for name in ("omamori-filter", "omamori-web"):
        check(any(p.poll() is None for p in lab.daemons), "%s died" % name)


@tap.case
def cron_runs_under_its_unit(lab):
    keys = unit_settings(lab, "omamori-cron.service")
    rc, out = lab.inside(*unit_argv(keys), timeout=300)
    check(rc == 0, "omamorictl cron under the unit's capabilities: rc %d: %s" % (rc, out[-2000:]))


def load_migrate_helpers():
    path = os.path.join(SRCDIR, "tests", "unit", "test-migrate.py")
    spec = importlib.util.spec_from_file_location("om_test_migrate", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@tap.case
def an_upgrade_migrates_the_store_and_keeps_its_rows(lab):
    import sqlite3
    for proc in lab.daemons:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    lab.daemons = []
    db = in_root(lab, "/var/lib/omamori/omamori.db")
    current = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    load_migrate_helpers().back_to_v5(db)
    check(sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0] == 5,
          "the store was not taken back")
    common = [d for d in lab.debs if os.path.basename(d).startswith("omamori-common_")][0]
    rc, out = lab.inside("apt-get", "install", "-y", "-q", "--reinstall",
                         "/tmp/debs/" + os.path.basename(common))
    check(rc == 0, "reinstall:\n" + out[-2000:])
    con = sqlite3.connect(db)
    check(con.execute("PRAGMA user_version").fetchone()[0] == current,
          "the upgrade did not migrate the store to v%d" % current)
    rows = con.execute("SELECT state FROM subscriptions WHERE mailbox = 'taro@example.jp' "
                       "AND feature = 'inbound-virus'").fetchall()
    check(rows == [("on",)], "the subscription was lost: %r" % rows)


@tap.case
def purge_removes_what_the_install_made(lab):
    names = [os.path.basename(d).split("_")[0] for d in lab.debs]
    rc, out = lab.inside("apt-get", "purge", "-y", "-q", *names)
    check(rc == 0, "purge:\n" + out[-2000:])
    for path in ("/var/lib/omamori", "/etc/omamori", "/var/spool/omamori",
                 "/var/spool/postfix/omamori", "/usr/bin/omamorictl",
                 "/lib/systemd/system/omamori-scand.service"):
        check(not os.path.exists(in_root(lab, path)), "%s is still there" % path)
    # as Debian leaves system users: Dovecot's lines may still name them
    check(user_in_root(lab, "omamori") is not None and
          user_in_root(lab, "omamori-web") is not None, "the users were deleted")
    check(not glob.glob(in_root(lab, "/etc/systemd/system/*.wants/omamori-*")),
          "an omamori unit is still enabled")


def main():
    require_root()
    for tool in ("dpkg-buildpackage", "lintian", "debootstrap"):
        if shutil.which(tool) is None:
            print("Bail out! %s is not installed (tests/install-deps installs it)" % tool)
            return 1
    lab = Lab()
    try:
        return tap.run(lab)
    finally:
        lab.close()


if __name__ == "__main__":
    sys.exit(main())
