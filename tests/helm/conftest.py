import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
# the shared test package (tests/support)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import chart  # noqa: E402


@pytest.fixture(scope="session")
def renders():
    """Every variant of chart.VARIANTS, rendered once: name -> objects."""
    for tool in (chart.HELM, chart.KUBECTL):
        assert os.access(tool, os.X_OK), f"{tool} missing: run tools/setup"
    return {v: chart.render(a) for v, a in chart.VARIANTS.items()}


@pytest.fixture(scope="session")
def default(renders):
    return renders["default"]
