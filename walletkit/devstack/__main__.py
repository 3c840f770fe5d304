"""``python -m walletkit.devstack up``: the whole system in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from walletkit.devstack.stack import REPO_ROOT, Stack, StackConfig


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m walletkit.devstack")
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--data-dir", type=Path, default=REPO_ROOT / ".data")
    args = parser.parse_args()

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
