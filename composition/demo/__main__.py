"""``python -m composition.demo SCENARIO``: what ``leitai demo`` runs (in a process of its own,
because nameko's containers want eventlet's monkey patching before anything else loads)."""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")  # nameko 2 runs on it; nothing to act on

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402 - after the monkey patching, on purpose
import importlib  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from leitai.config import ConfigurationError  # noqa: E402
from leitai.logs import JsonFormatter  # noqa: E402

SCENARIOS = {
    "boai": "博爱县：206 名村（社区）书记，乡镇初赛 → 县级半决赛 → 决赛",
    "qidong": "启东市：340 名新任书记，“五比五拼”一次比武",
    "lufeng": "陆丰市：一年的双月交流会与每月乡镇论坛",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="leitai demo", description="Run a demo scenario end to end.")
    p.add_argument("scenario", nargs="?", default="boai", choices=sorted(SCENARIOS))
    p.add_argument("--seed", default="2021", help="what the scores are drawn from (default 2021)")
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path("var/demo"),
        help="the demo's own folder (default var/demo): data, outbox, log and export.json",
    )
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    folder = args.workdir / args.scenario
    folder.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(folder / "demo.log", mode="w", encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    started = time.monotonic()

    def say(text: str, raw: bool = False) -> None:
        print(text if raw else f"[{time.monotonic() - started:6.1f}s] {text}", flush=True)

    say(f"leitai demo {args.scenario} (seed {args.seed}): {SCENARIOS[args.scenario]}")
    say(f"log: {folder / 'demo.log'}")
    from composition.demo import export
    from composition.demo.runtime import Runtime

    scenario = importlib.import_module(f"composition.demo.{args.scenario}")
    try:
        with Runtime(folder, args.scenario, say) as rt:
            document = export.write(
                folder / "export.json", args.scenario, args.seed, rt, scenario.run(rt, args.seed, say)
            )
            check = f"--key '{rt.signer.verifier.encoded()}'" + (
                f" --witness '{rt.witness.endpoint.key.encoded()}'" if rt.witness else ""
            )
    except ConfigurationError as exc:
        print(f"leitai demo: {exc}", file=sys.stderr)
        return 2
    notices = document.get("notifications", {})
    say(
        f"notices: {notices.get('deliveries', 0)} deliveries ({_counts(notices.get('by_status', {}))}); "
        f"outbox: {notices.get('outbox', {}).get('mail', 0)} mails, {notices.get('outbox', {}).get('sms', 0)} SMS"
    )
    say(f"event logs at {_counts(document['log_position'])}")
    say(f"export: {folder / 'export.json'}  (format: docs/demo-export.md)")
    say(f"audit bundles: {folder / 'bundles'}/  (docs/audit.md); check one:")
    say(f"  python3 tools/verify_bundle.py {folder / 'bundles'}/<bundle>.json {check}")
    say(f"done in {time.monotonic() - started:.0f}s")
    return 0


def _counts(mapping: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in mapping.items())


if __name__ == "__main__":
    sys.exit(main())
