"""The X Education ROC AUC, reproduced with the CLI: ``python -m benchmarks.xeducation``.

Runs the commands docs/predictive.md gives, on a fresh database: migrate, activate the
default model, import ../shared/data/xeducation/Leads.csv as leads and its ``Converted``
column as outcomes (docs/imports.md), then ``leadgate train --target customer`` twice:

* **documented**: the columns sales fill in after contact left out (``Tags``,
  ``Lead Quality``, ``Lead Profile``, the four ``Asymmetrique *``), as
  ../shared/data/README.md says a predictive model must;
* **strict**: also ``Last Activity`` and ``Last Notable Activity``, which the README calls
  suspect (activity up to the extract date, phone calls included).

The file has no dates, so validation is stratified 5-fold cross-validation over the
9,240 leads; the ROC AUC is the chosen model's, on cross-fitted calibrated probabilities.
``--backend postgresql`` uses PostgreSQL (LEADGATE_BENCH_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.databases import create_database, drop_database
from benchmarks.machine import describe

REPO = Path(__file__).resolve().parent.parent
SALES_FILLED = "Tags,Lead Quality,Lead Profile,Asymmetrique*"
SUSPECT = "Last Activity,Last Notable Activity"

# The commands of docs/predictive.md, in order, as run from the repository root (the
# e2e test checks that the document shows exactly these).
SETUP = [
    ["db", "upgrade"],
    ["model", "activate", "--default"],
    [
        "import",
        "leads",
        "../shared/data/xeducation/Leads.csv",
        "--map",
        "external_id=Prospect ID",
        "--map",
        "source_channel=Lead Source",
        "--ignore",
        "Converted",
    ],
    [
        "import",
        "outcomes",
        "../shared/data/xeducation/Leads.csv",
        "--map",
        "external_id=Prospect ID",
        "--map",
        "outcome=Converted",
    ],
]
TRAIN = ["train", "--target", "customer", "--exclude", SALES_FILLED]
TRAIN_STRICT = ["train", "--target", "customer", "--exclude", f"{SALES_FILLED},{SUSPECT}"]


def leadgate(url: str, args: list[str]) -> str:
    """Run one ``leadgate`` command against ``url`` from the repository root."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADGATE_")}
    env["LEADGATE_DATABASE_URL"] = url
    executable = Path(sys.executable).parent / "leadgate"
    done = subprocess.run(
        [str(executable), *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"leadgate {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def trained(url: str, args: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    report = json.loads(leadgate(url, [*args, "--json"]))
    models = report["metrics"]["models"]
    return {
        "exclude": args[args.index("--exclude") + 1],
        "rows": report["rows"],
        "positives": report["positives"],
        "validation": report["metrics"]["validation"],
        "chosen": report["algorithm"],
        "roc_auc": models[report["algorithm"]]["roc_auc"],
        "pr_auc": models[report["algorithm"]]["pr_auc"],
        "brier": models[report["algorithm"]]["brier"],
        "logistic_auc": models["logistic"]["roc_auc"],
        "lightgbm_auc": models["lightgbm"]["roc_auc"],
        "rule_auc": models["rule_total"]["roc_auc"],
        "naive_bayes_auc": models["naive_bayes"]["roc_auc"],
        "warnings": [s["feature"] for s in report["screening"]],
        "seconds": time.perf_counter() - started,
    }


def run(url: str) -> dict[str, Any]:
    started = time.perf_counter()
    for args in SETUP:
        leadgate(url, args)
    setup = time.perf_counter() - started
    return {
        "import_s": setup,
        "documented": trained(url, TRAIN),
        "strict": trained(url, TRAIN_STRICT),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args()
    url = create_database(args.backend)
    try:
        result = {"backend": args.backend, **run(url)}
    finally:
        drop_database(url)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    table = Table(
        "left out",
        "chosen",
        "ROC AUC",
        "PR AUC",
        "Brier",
        "logistic / LightGBM",
        "rule total / naive Bayes",
        "train",
        title=f"X Education, {result['documented']['validation']} ({args.backend}; "
        f"import {result['import_s']:.0f} s)",
        caption=describe(),
    )
    for key, label in (("documented", "sales-filled columns"), ("strict", "also Last *Activity")):
        r = result[key]
        table.add_row(
            label,
            r["chosen"],
            f"{r['roc_auc']:.3f}",
            f"{r['pr_auc']:.3f}",
            f"{r['brier']:.3f}",
            f"{r['logistic_auc']:.3f} / {r['lightgbm_auc']:.3f}",
            f"{r['rule_auc']:.3f} / {r['naive_bayes_auc']:.3f}",
            f"{r['seconds']:.0f} s",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
