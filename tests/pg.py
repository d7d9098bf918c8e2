#!/usr/bin/env python3
"""tests/pg.py - a private PostgreSQL for tests (issue 21): Debian's
postgresql server, initdb in a temporary directory, listening on 127.0.0.1
at a free port and on a unix socket in that directory, trust authentication
for the user omamori, fsync off (a commit is written to the system, not
synced: it outlives the server's crash, which pause makes, not the
machine's); a database "omamori"; stopped and removed
at the end.  As root, the server runs as the postgres user (initdb refuses
root).

    with PgServer() as pg:          # in a test
        store_path = "postgresql:" + pg.conninfo

    tests/pg.py run -- CMD ARGS     # CMD with OMAMORI_PG=<conninfo> set
    tests/pg.py start DIR           # a server in DIR (tests/stack), prints
                                    # its conninfo; it runs until
    tests/pg.py stop DIR            # stops it (DIR stays)
    tests/pg.py pause DIR | resume DIR   # stopped as a crash would, started again
    tests/pg.py freeze DIR | thaw DIR    # hung (SIGSTOP: takes TCP, never
                                         # answers), then going on (SIGCONT)
"""
import glob
import os
import pwd
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time

USER = "omamori"
DATABASE = "omamori"


def pg_bindir():
    """The newest installed server's bin directory (Debian's layout)."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                  key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not dirs:
        raise RuntimeError("no PostgreSQL server: apt-get install postgresql")
    return os.path.dirname(dirs[-1])


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """dir: where the server lives (made here; a temporary directory,
    removed by stop, when None); max_connections: a whole stack's processes
    (every Dovecot lmtp/imap process and daemon thread keeps one) need more
    than a unit test's."""

    def __init__(self, dir=None, max_connections=60):
        self.bindir = pg_bindir()
        self.dir = None
        self.own_dir = dir is None
        self.given_dir = dir
        self.max_connections = max_connections
        self.port = None
        self.runas = None
        if os.geteuid() == 0:
            self.runas = pwd.getpwnam("postgres")

    def _run(self, args, **kw):
        """A server program, as the postgres user when we are root."""
        if self.runas is not None:
            args = ["runuser", "-u", self.runas.pw_name, "--"] + args
        return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, **kw)

    def start(self):
        if self.own_dir:
            self.dir = tempfile.mkdtemp(prefix="om-pg-")
        else:
            self.dir = self.given_dir
            os.makedirs(self.dir)
        if self.runas is not None:
            os.chown(self.dir, self.runas.pw_uid, self.runas.pw_gid)
        os.chmod(self.dir, 0o755)
        data = os.path.join(self.dir, "data")
        p = self._run([os.path.join(self.bindir, "initdb"), "-D", data, "-U", USER,
                       "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        if p.returncode != 0:
            raise RuntimeError("initdb: " + p.stdout)
        for attempt in range(5):
            self.port = free_port()
            opts = ("-h 127.0.0.1 -p %d -k %s -c fsync=off "
                    "-c full_page_writes=off -c max_connections=%d"
                    % (self.port, self.dir, self.max_connections))
            p = self._run([os.path.join(self.bindir, "pg_ctl"), "-D", data, "-w",
                           "-t", "30", "-l", os.path.join(self.dir, "log"),
                           "-o", opts, "start"])
            if p.returncode == 0:
                break
        else:
            raise RuntimeError("postgres did not start: " + self.log())
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-h",
                            "127.0.0.1", "-p", str(self.port), "-U", USER, "-d",
                            "postgres", "-c", "CREATE DATABASE " + DATABASE],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            self.stop()
            raise RuntimeError("createdb: " + p.stdout)
        return self

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d user=%s dbname=%s" % (self.port, USER, DATABASE)

    def psql(self, sql):
        """Runs sql as the test's own hands; the rows, '|'-separated."""
        p = subprocess.run([os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t",
                            "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                            "-d", DATABASE, "-v", "ON_ERROR_STOP=1", "-c", sql],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            raise RuntimeError("psql: " + p.stdout)
        return [line for line in p.stdout.splitlines() if line]

    def log(self):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.dir is None:
            return
        data = os.path.join(self.dir, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            self._run([os.path.join(self.bindir, "pg_ctl"), "-D", data, "-m",
                       "immediate", "-w", "stop"])
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def outage(d, pause):
    """Stops (pause) or starts again (resume) the server tests/stack
    started in d, keeping its data, port and options."""
    server = PgServer(d)
    server.dir = d
    with open(os.path.join(d, "port")) as f:
        server.port = int(f.read())
    data = os.path.join(d, "data")
    if pause:
        p = server._run([os.path.join(server.bindir, "pg_ctl"), "-D", data, "-m",
                         "immediate", "-w", "stop"])
    else:
        opts = ("-h 127.0.0.1 -p %d -k %s -c fsync=off "
                "-c full_page_writes=off -c max_connections=300" % (server.port, d))
        p = server._run([os.path.join(server.bindir, "pg_ctl"), "-D", data, "-w",
                         "-t", "30", "-l", os.path.join(d, "log"), "-o", opts, "start"])
    if p.returncode != 0:
        sys.stderr.write("pg.py: %s: %s\n" % ("pause" if pause else "resume", p.stdout))
        return 1
    return 0


def server_pids(d):
    """The postmaster of the server in d (postmaster.pid's first line) and
    every process under it (children by /proc/PID/stat's ppid)."""
    with open(os.path.join(d, "data", "postmaster.pid")) as f:
        postmaster = int(f.readline())
    parents = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                text = f.read()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parens
        fields = text[text.rindex(")") + 2:].split()
        parents.setdefault(int(fields[1]), []).append(int(text.split(" ", 1)[0]))
    pids, todo = [], [postmaster]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(parents.get(pid, []))
    return pids


def freeze(d, frozen):
    """Hangs (SIGSTOP) or thaws (SIGCONT) the server in d and every process
    of it: its port still takes connections (the kernel's), nothing ever
    answers, as a stuck host's database would."""
    pids = server_pids(d)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGSTOP if frozen else signal.SIGCONT)
        except ProcessLookupError:
            pass
    return pids


def main(argv):
    if len(argv) == 2 and argv[0] == "start":
        # tests/stack: the server outlives this program; its port in DIR/port
        server = PgServer(os.path.abspath(argv[1]), max_connections=300)
        try:
            server.start()
        except RuntimeError as e:
            sys.stderr.write("pg.py: %s\n" % e)
            return 1
        with open(os.path.join(server.dir, "port"), "w") as f:
            f.write("%d\n" % server.port)
        print(server.conninfo)
        return 0
    if len(argv) == 2 and argv[0] == "stop":
        d = os.path.abspath(argv[1])
        if not os.path.isdir(d):
            return 0
        server = PgServer(d)
        server.dir = d
        server.stop()
        # the server's log beside the stack's others, then its data away
        log = os.path.join(d, "log")
        if os.path.exists(log) and os.path.isdir(os.path.join(os.path.dirname(d), "log")):
            shutil.copy(log, os.path.join(os.path.dirname(d), "log", "pg.log"))
        shutil.rmtree(d, ignore_errors=True)
        return 0
    if len(argv) == 2 and argv[0] in ("pause", "resume"):
        # an outage (tests/e2e/pg_outage.py): the server of DIR stopped
        # at once, as a crash would, its data kept; then started again on
        # its port
        return outage(os.path.abspath(argv[1]), argv[0] == "pause")
    if len(argv) == 2 and argv[0] in ("freeze", "thaw"):
        try:
            freeze(os.path.abspath(argv[1]), argv[0] == "freeze")
        except (OSError, ValueError) as e:
            sys.stderr.write("pg.py: %s: %s\n" % (argv[0], e))
            return 1
        return 0
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        sys.stderr.write("usage: tests/pg.py run -- CMD [ARGS...] | start DIR | stop DIR | "
                         "pause DIR | resume DIR | freeze DIR | thaw DIR\n")
        return 2
    with PgServer() as pg:
        env = dict(os.environ, OMAMORI_PG=pg.conninfo)
        started = time.time()
        rc = subprocess.call(argv[2:], env=env)
        sys.stderr.write("pg.py: %s ran %.1f s against %s\n"
                         % (argv[2], time.time() - started, pg.conninfo))
        return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
