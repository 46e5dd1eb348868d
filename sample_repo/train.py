"""Train a small churn model on data/raw/customers.csv.

Logistic regression by mini-batch gradient descent in plain Python: it needs
nothing beyond gitgov itself, and for a given seed and params it writes
bit-identical files: models/churn_model.json and metrics.json.

    python train.py                                     # a plain local run
    gitgov run --param lr=0.2 -- python train.py        # a recorded, reproducible run

Under `gitgov run` the seed and params come from the run (and are recorded);
outside it the defaults below are used and metrics are printed.
"""
import csv
import json
import math
import os
import random
from datetime import date

from gitgov.core.tracking import log_metric, params, seed_everything

DATA = "data/raw/customers.csv"
MODEL = "models/churn_model.json"
PLANS = ("free", "basic", "pro", "enterprise")
FEATURES = ("bias", "age", "tenure", "spend", *PLANS)
DEFAULTS = {"lr": 0.5, "epochs": 30, "batch": 32, "test_fraction": 0.25}


def features(row):
    tenure = (date(2025, 1, 1) - date.fromisoformat(row["signup_date"])).days / 1000
    plan = [1.0 if row["plan"] == p else 0.0 for p in PLANS]
    return [1.0, int(row["age"]) / 100, tenure, float(row["monthly_spend"]) / 100, *plan]


def load(path=DATA):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [features(r) for r in rows], [int(r["churned"]) for r in rows]


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


def predict(w, x):
    return sigmoid(sum(a * b for a, b in zip(w, x)))


def log_loss(w, x, y):
    probs = [predict(w, xi) for xi in x]
    return -sum(t * math.log(p + 1e-12) + (1 - t) * math.log(1 - p + 1e-12) for p, t in zip(probs, y)) / len(y)


def train(x, y, lr, epochs, batch, rng):
    """Mini-batch gradient descent; the shuffles come from ``rng`` alone."""
    w = [0.0] * len(x[0])
    order = list(range(len(x)))
    for epoch in range(1, epochs + 1):
        rng.shuffle(order)
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            grad = [0.0] * len(w)
            for i in idx:
                err = predict(w, x[i]) - y[i]
                grad = [g + err * v for g, v in zip(grad, x[i])]
            w = [wi - lr * g / len(idx) for wi, g in zip(w, grad)]
        log_metric("train_loss", log_loss(w, x, y), step=epoch)
    return w


def evaluate(w, x, y):
    accuracy = sum((predict(w, xi) > 0.5) == bool(t) for xi, t in zip(x, y)) / len(y)
    return {"accuracy": round(accuracy, 6), "log_loss": round(log_loss(w, x, y), 6)}


def main():
    seed = seed_everything(42)
    p = params(DEFAULTS)
    rng = random.Random(seed)
    x, y = load()
    order = list(range(len(x)))
    rng.shuffle(order)
    cut = int(len(order) * (1 - p["test_fraction"]))
    train_i, test_i = order[:cut], order[cut:]
    w = train([x[i] for i in train_i], [y[i] for i in train_i], p["lr"], p["epochs"], p["batch"], rng)
    metrics = evaluate(w, [x[i] for i in test_i], [y[i] for i in test_i])
    for name, value in metrics.items():
        log_metric(name, value)
    os.makedirs(os.path.dirname(MODEL), exist_ok=True)
    with open(MODEL, "w", encoding="utf-8") as f:
        json.dump({"weights": [round(v, 10) for v in w], "features": list(FEATURES), "seed": seed,
                   "params": p}, f, indent=2, sort_keys=True)
        f.write("\n")
    with open("metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
        f.write("\n")
    print(f"trained on {len(train_i)} rows, tested on {len(test_i)} (seed {seed}): {metrics}")


if __name__ == "__main__":
    main()
