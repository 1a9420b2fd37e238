"""pytest for the lessons' test_lesson.py: the `build` fixture is the learner's notebook, executed up
to `## Use` (tinytorch.lessons.harness.load). By default it is the lesson's reference lesson.py;
$TINYTORCH_LESSON_NOTEBOOK points it at another notebook (a learner's .ipynb):

    pytest modules/05_autograd                                       # the reference answers
    TINYTORCH_LESSON_NOTEBOOK=ws/05_autograd.ipynb pytest modules/05_autograd

`tinytorch check N` runs the same tests without pytest; CI runs them through tests/test_lessons.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.lessons.harness import Build, isolated_ops, load


@pytest.fixture(scope="module")
def build(request: pytest.FixtureRequest) -> Iterator[Build]:
    path = os.environ.get("TINYTORCH_LESSON_NOTEBOOK") or Path(request.path).parent / "lesson.py"
    with isolated_ops():  # the notebook's Functions leave tinytorch.OPS when the module's tests end
        yield load(path)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state (as under `tinytorch check`)."""
    tt.manual_seed(0)
    np.random.seed(0)
    with tt.enable_grad():
        yield
