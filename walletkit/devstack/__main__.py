"""``python -m walletkit.devstack up``: the whole system in the foreground until Ctrl-C.
``backup`` dumps each service database of a running stack; ``restore --from DIR`` restores them
into a fresh data directory (walletkit/devstack/backup.py)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from walletkit.devstack.backup import backup_create, backup_restore
from walletkit.devstack.stack import REPO_ROOT, Stack, StackConfig


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m walletkit.devstack")
    parser.add_argument("command", choices=["up", "backup", "restore"])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    parser.add_argument("--backups-dir", type=Path, default=REPO_ROOT / "backups", help="backup: where to write")
    parser.add_argument("--from", dest="dumps", type=Path, help="restore: a directory made by backup")
    args = parser.parse_args()
    if args.command == "backup":
        target = backup_create(config=StackConfig.from_env(args.data_dir.resolve()), backups_dir=args.backups_dir)
        print(f"[backup] {len(list(target.glob('*.dump')))} databases dumped to {target}", flush=True)
        return 0
    if args.command == "restore":
        if args.dumps is None:
            parser.error("restore needs --from DIR (a directory made by backup)")
        backup_restore(dumps=args.dumps.resolve(), data_dir=args.data_dir.resolve())
        print(f"[restore] restored into {args.data_dir}; start it with make up, then reconcile --full", flush=True)
        return 0

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    stack = Stack(StackConfig.from_env(args.data_dir.resolve()))
    try:
        stack.start()
        print(f"[stack] logs in {args.data_dir / 'logs'}; Ctrl-C stops everything", flush=True)
        stop.wait()
    except Exception as exc:
        print(f"[stack] failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("[stack] stopping…", flush=True)
        stack.stop()
        print("[stack] stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
