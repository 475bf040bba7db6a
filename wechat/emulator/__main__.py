"""python -m wechat.emulator --host 127.0.0.1 --port 8001 --keys-dir instance/wechat-keys"""

from __future__ import annotations

import argparse
import threading

from wechat.emulator import EmulatorServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m wechat.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--keys-dir", default="instance/wechat-keys")
    parser.add_argument("--notify-time-scale", type=float, default=1.0,
                        help="1.0 = WeChat Pay's real notification retry schedule")
    parser.add_argument("--notify-url", default=None,
                        help="send pay notifications here instead of the order's notify_url")
    args = parser.parse_args(argv)

    emulator = EmulatorServer.from_keys_dir(
        args.keys_dir,
        args.host,
        args.port,
        notify_time_scale=args.notify_time_scale,
        notify_url=args.notify_url,
    )
    with emulator as server:
        print(f"WeChat emulator at {server.url} (appid {server.config.appid}, "
              f"keys in {args.keys_dir})", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
