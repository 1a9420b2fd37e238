"""The `tinytorch` command."""

from __future__ import annotations

import textwrap

from tinytorch.cli import main

SCRIPT = textwrap.dedent(
    """
    import sys
    import tinytorch as tt
    from tinytorch import nn
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    opt = tt.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(int(sys.argv[1])):
        loss = nn.functional.cross_entropy(model(tt.randn(4, 8)), tt.randint(0, 2, (4,)))
        opt.zero_grad(); loss.backward(); opt.step()
    print("trained")
    """
)


def test_profile_a_script(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    assert main(["profile", str(script), "3"]) == 0
    out = capsys.readouterr().out
    assert "trained" in out and "tinytorch profile of" in out
    linear = [line.split() for line in out.splitlines() if line.startswith("Linear ")]
    assert {row[1] for row in linear} == {"forward", "backward"}
    assert all(int(row[2]) == 6 for row in linear)  # 2 layers x 3 steps
    assert any(line.startswith("SGDStep") and " optimizer " in line for line in out.splitlines())


def test_profile_by_module_and_lines(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    assert main(["profile", "--by", "module", "--lines", str(script), "1"]) == 0
    out = capsys.readouterr().out
    assert "slowest lines of the ops" in out and "forward" in out
    assert any(line.split()[0] == "0" for line in out.splitlines() if line.strip())  # module "0" (the first Linear)


def test_missing_script_is_a_clear_error(tmp_path, capsys):
    assert main(["profile", str(tmp_path / "nope.py")]) == 2
    assert "no script at" in capsys.readouterr().err
