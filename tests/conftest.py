import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

import fpstt  # noqa: E402


@pytest.fixture(autouse=True)
def _raise_on_float_errors():
    """Overflow, invalid operations and divisions by zero fail the test (underflow is fine)."""
    with np.errstate(all="raise", under="ignore"):
        yield


@pytest.fixture(scope="session")
def table_i_model():
    return fpstt.SpinTorqueModel.from_microscopic(fpstt.table_i())


@pytest.fixture(scope="session")
def table_i_gibbs():
    return fpstt.GibbsState.from_microscopic(fpstt.table_i())


def observed_order(h, err):
    """Least-squares slope of log(err) against log(h)."""
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])
