"""Run the fake Twilio by hand: `python -m tests.fake_twilio --port 8901`, Ctrl-C to stop."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import threading

from tests.fake_twilio.server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fake_twilio", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901, help="0 picks a free port")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--no-callbacks", action="store_true", help="post no status callbacks")
    args = parser.parse_args(argv)
    # Ctrl-C stops it even when started with SIGINT ignored (from a background shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with FakeTwilio(
        args.account_sid,
        args.auth_token,
        callbacks=not args.no_callbacks,
        host=args.host,
        port=args.port,
    ) as fake:
        print(
            f"fake Twilio at {fake.url} account_sid={fake.account_sid} "
            f"auth_token={fake.auth_token}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
