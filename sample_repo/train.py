"""Train a small churn model on data/raw/customers.csv.

Deterministic for a given seed and params: logistic regression by mini-batch
gradient descent in plain Python, so it needs nothing beyond the standard
library. Writes models/churn_model.json and metrics.json.
"""
import csv
import json
import math
import os
import random
from datetime import date

DATA = "data/raw/customers.csv"
PLANS = ("free", "basic", "pro", "enterprise")


def features(row):
    tenure = (date(2025, 1, 1) - date.fromisoformat(row["signup_date"])).days / 1000
    plan = [1.0 if row["plan"] == p else 0.0 for p in PLANS]
    return [1.0, int(row["age"]) / 100, tenure, float(row["monthly_spend"]) / 100, *plan]


def load():
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [features(r) for r in rows], [int(r["churned"]) for r in rows]


def sigmoid(z):
    return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


def train(x, y, lr, epochs, batch, rng):
    w = [0.0] * len(x[0])
    order = list(range(len(x)))
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, len(order), batch):
            grad = [0.0] * len(w)
            idx = order[start:start + batch]
            for i in idx:
                err = sigmoid(sum(a * b for a, b in zip(w, x[i]))) - y[i]
                grad = [g + err * v for g, v in zip(grad, x[i])]
            w = [wi - lr * g / len(idx) for wi, g in zip(w, grad)]
    return w


def evaluate(w, x, y):
    probs = [sigmoid(sum(a * b for a, b in zip(w, xi))) for xi in x]
    acc = sum((p > 0.5) == bool(t) for p, t in zip(probs, y)) / len(y)
    loss = -sum(t * math.log(p + 1e-12) + (1 - t) * math.log(1 - p + 1e-12) for p, t in zip(probs, y)) / len(y)
    return {"accuracy": round(acc, 6), "log_loss": round(loss, 6)}


def main():
    params = {"lr": 0.5, "epochs": 30, "batch": 32, "test_fraction": 0.25}
    params.update(json.loads(os.environ.get("GITGOV_PARAMS", "{}")))
    seed = int(os.environ.get("GITGOV_SEED", "42"))
    rng = random.Random(seed)
    x, y = load()
    order = list(range(len(x)))
    rng.shuffle(order)
    cut = int(len(order) * (1 - float(params["test_fraction"])))
    train_i, test_i = order[:cut], order[cut:]
    w = train([x[i] for i in train_i], [y[i] for i in train_i], float(params["lr"]),
              int(params["epochs"]), int(params["batch"]), rng)
    metrics = evaluate(w, [x[i] for i in test_i], [y[i] for i in test_i])
    os.makedirs("models", exist_ok=True)
    with open("models/churn_model.json", "w", encoding="utf-8") as f:
        json.dump({"weights": [round(v, 10) for v in w], "features": ["bias", "age", "tenure",
                   "spend", *PLANS], "seed": seed, "params": params}, f, indent=2)
    with open("metrics.json", "w", encoding="utf-8") as f:
        json.dump(metrics, f, indent=2)
    print(f"trained on {len(train_i)} rows, tested on {len(test_i)}: {metrics}")


if __name__ == "__main__":
    main()
