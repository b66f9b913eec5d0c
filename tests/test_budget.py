"""budget=N: the widest model whose parameters stay within N."""

import pytest

from benchmarks.core.errors import ConfigError
from benchmarks.engine.budget import width_for_budget
from benchmarks.engine.runner import count_parameters, prepare, run
from tests.helpers import TINY_TASKS, compose_config

BUDGET = 500_000


@pytest.mark.parametrize("model", ["gcn", "gat", "glstm"])
def test_budget_lands_within_one_percent_under(model):
    cfg = compose_config(["task=nar", f"model={model}", f"budget={BUDGET}", *TINY_TASKS["nar"]])
    _, net, _, _ = prepare(cfg)
    params = count_parameters(net)
    assert 0.99 * BUDGET <= params <= BUDGET
    cfg.budget = None
    for wider in range(net.width + 1, net.width + 9):  # the next width the model accepts
        cfg.model.dim = wider
        try:
            assert count_parameters(prepare(cfg)[1]) > BUDGET
            break
        except ConfigError:
            continue
    else:
        pytest.fail("no wider width accepted")


def test_bisection_respects_the_accepted_widths():
    def count(width: int) -> int:  # 1000 d + 7, widths must divide by 6
        if width % 6:
            raise ConfigError("dim: must divide by 6")
        return 1000 * width + 7

    assert width_for_budget(count, 100_000) == (96, 96_007)
    with pytest.raises(ConfigError, match="budget: 5,000 parameters is below the smallest"):
        width_for_budget(count, 5000)


def test_result_records_width_and_budget(tmp_path):
    cfg = compose_config(
        ["task=nar", "model=gcn", "budget=20000", "train.max_epochs=1", *TINY_TASKS["nar"]],
        tmp_path,
    )
    result = run(cfg)
    assert result["budget"] == 20000
    assert result["params"] <= 20000
    assert result["width"] > 0 and result["config"]["budget"] == 20000
