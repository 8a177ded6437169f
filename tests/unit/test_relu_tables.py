"""The ReLU chapter's table helpers: which product Table 3 describes, and the synthesis."""

import numpy as np
import pytest

from dnc.experiments import relu_tables


def _random_model(seed, K=3, n=4, d=6, L=3):
    rng = np.random.default_rng(seed)
    H1 = rng.standard_normal((d, K * n))
    Ws = [rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(L - 1)]
    return H1, [*Ws, rng.standard_normal((K, d)) / np.sqrt(d)]


def test_diagonal_fit_recovers_the_base_and_tells_the_offset():
    L, b = 5, 1.7
    exact = b ** (L - np.arange(1, L) + 1.0)  # rows A^(l), l = 1..L−1
    base, resid = relu_tables.diagonal_fit(exact, L, offset=1)
    assert base == pytest.approx(b, rel=1e-12) and np.max(np.abs(resid)) < 1e-12
    _, wrong = relu_tables.diagonal_fit(exact, L, offset=0)
    assert np.max(np.abs(wrong)) > 0.1
    with pytest.raises(ValueError, match="positive"):
        relu_tables.diagonal_fit([1.0, -1.0], L, 0)
    with pytest.raises(ValueError, match="exponent < 1"):
        relu_tables.diagonal_fit(np.ones(5), L, 0)


def test_the_papers_table_3_fits_a_power_of_the_product_a_l():
    fits = relu_tables.product_hypotheses(relu_tables.PAPER_TABLE3, 5)
    base, resid = fits["A^(l)"]
    assert base == pytest.approx(1.6446, abs=1e-3) and np.max(np.abs(resid)) < 2e-3
    assert np.max(np.abs(fits["A^(l+1)"][1])) > 0.3
    assert relu_tables.repeated_rows(relu_tables.PAPER_TABLE3) == [(1, 4)]
    assert relu_tables.repeated_rows(relu_tables.PAPER_TABLE4) == []


def test_tables_products_hold_table_3_and_a_1():
    H1, Ws = _random_model(0)
    T = relu_tables.tables(H1, Ws, 2)
    assert T["products"].shape == (3, 6)
    np.testing.assert_allclose(T["products"][1:], T["table3"], rtol=1e-12)
    A1 = Ws[2] @ Ws[1] @ Ws[0]
    assert T["products"][0, 0] == pytest.approx(A1[0] @ A1[0])


def test_verdicts_counts_and_rows():
    assert [relu_tables.verdict(k, 3) for k in (3, 1, 0)] == ["holds", "partly", "not"]
    assert relu_tables.gradient_directions([[0.5, 0.4, 0.05, 0.001]]).tolist() == [3]
    rows = relu_tables.single_rows(np.ones((2, 6)), np.full((2, 6), 2.0))
    assert rows[1][0] == "l = 2" and rows[0][1] == "1 (2)"


def test_synthesis_and_like_with_like_on_random_models():
    models = [_random_model(s) for s in range(3)]
    per_seed = [relu_tables.structure(H1, Ws, 2) for H1, Ws in models[:2]]
    full = relu_tables.structure(*models[2], 2)
    T = {
        k: np.stack([relu_tables.tables(H1, Ws, 2)[k] for H1, Ws in models[:2]])
        for k in ("table1", "table2", "table3", "table4", "products")
    }
    T_full = relu_tables.tables(*models[2], 2)
    facts = dict(
        K=3, L=5, seed_epochs=10, full_epochs=100, hess_slope=0.4, lr_f=0.5, linear_decay=1.83
    )
    out = relu_tables.synthesis(per_seed, full, T, T_full, facts)
    assert all(len(row) == len(out["header"]) for row in out["rows"])
    assert {row[3] for row in out["rows"]} <= {"holds", "partly", "not"}
    like = relu_tables.like_with_like_rows(T_full, T, np.ones((2, 6)))
    assert len(like["rows"]) == 2 and all(len(r) == len(like["header"]) for r in like["rows"])


def test_disagreement_rows_name_widths_and_ratios():
    classes = {
        "width": np.array([2, 6]),
        "ratio": np.array([0.1, 1.2]),
        "predicted": np.array([["collapsed optimum", "zero solution"]] * 2),
        "outcome": np.array(
            [
                ["collapsed optimum", "zero solution"],
                ["not converged", "rank-deficient stationary point"],
            ]
        ),
    }
    rows = relu_tables.disagreement_rows(classes)
    assert rows == [
        ["collapsed optimum", "not converged", "1", "d = 6: 0.1"],
        ["zero solution", "rank-deficient stationary point", "1", "d = 6: 1.2"],
    ]
