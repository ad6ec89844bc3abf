"""Built-in time series, read from the data sets statsmodels ships (nothing is downloaded), and
:func:`load_series`, which takes a path or a built-in name.

=============  =========  =====  ====================================================
name           frequency  T      what
=============  =========  =====  ====================================================
``co2``        W-SAT      2284   Mauna Loa CO2 (ppm), weekly 1958-2001; 59 gaps,
                                 filled by linear interpolation
``elec_equip`` MS         257    euro area turnover index of electrical equipment
                                 manufacturing (Eurostat, NACE 26-27), monthly
                                 1995-2016, working-day but not seasonally adjusted
``elnino``     MS         732    El Nino sea surface temperature (deg C), monthly
                                 1950-2010, from statsmodels' year-by-month table
``macrodata``  QS-JAN     203    US real GDP (billions of 2005 dollars), 1959-2009
``sunspots``   YS-JAN     309    yearly sunspot activity, 1700-2008
=============  =========  =====  ====================================================

Every built-in passes through the same checks as a CSV file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from lstmkit.data.series import SeriesFrame, from_table, read_series
from lstmkit.errors import UserError

BUILTIN_SERIES = ("co2", "elec_equip", "elnino", "macrodata", "sunspots")


def _co2() -> pd.DataFrame:
    from statsmodels.datasets import co2

    data = co2.load_pandas().data
    return pd.DataFrame({"date": data.index, "co2": data["co2"].to_numpy()})


def _elec_equip() -> pd.DataFrame:
    from statsmodels.datasets import elec_equip

    data = elec_equip.load().data  # one column, named by its Eurostat series code
    return pd.DataFrame({"month": data.index, "turnover": data.iloc[:, 0].to_numpy()})


def _elnino() -> pd.DataFrame:
    from statsmodels.datasets import elnino

    data = elnino.load_pandas().data
    months = data.drop(columns="YEAR").to_numpy().ravel()  # row-major: year by year, Jan..Dec
    start = f"{int(data['YEAR'].iloc[0])}-01-01"
    return pd.DataFrame(
        {"month": pd.date_range(start, periods=len(months), freq="MS"), "temperature": months}
    )


def _macrodata() -> pd.DataFrame:
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    quarters = pd.PeriodIndex.from_fields(
        year=data["year"].astype(int), quarter=data["quarter"].astype(int), freq="Q"
    )
    return pd.DataFrame({"quarter": quarters.to_timestamp(), "realgdp": data["realgdp"]})


def _sunspots() -> pd.DataFrame:
    from statsmodels.datasets import sunspots

    data = sunspots.load_pandas().data
    years = pd.to_datetime(data["YEAR"].astype(int).astype(str), format="%Y")
    return pd.DataFrame({"year": years, "sunactivity": data["SUNACTIVITY"]})


_LOADERS = {
    "co2": _co2,
    "elec_equip": _elec_equip,
    "elnino": _elnino,
    "macrodata": _macrodata,
    "sunspots": _sunspots,
}


def builtin_series(name: str) -> SeriesFrame:
    """A built-in series (:data:`BUILTIN_SERIES`) as a one-series :class:`SeriesFrame`.

    ``co2`` has weekly gaps; they are filled by linear interpolation (``fill="interpolate"``),
    which is recorded in ``frame.filled`` and not reported as a notice.

    Raises:
        UserError: an unknown name.

    Example:
        >>> frame = builtin_series("sunspots")
        >>> frame.freq, len(frame[0]), frame[0].index[0].year
        ('YS-JAN', 309, 1700)
    """
    if name not in _LOADERS:
        raise UserError(
            f"builtin series: expected one of {', '.join(BUILTIN_SERIES)}, got {name!r}"
        )
    table = _LOADERS[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the filling is documented, not news
        frame = from_table(
            table,
            f"builtin {name}",
            lambda row: f"builtin {name} row {row}",
            fill="interpolate" if name == "co2" else None,
        )
    frame.source = {"builtin": name}
    return frame


def load_series(
    data: str | Path | None = None,
    *,
    builtin: str | None = None,
    path: str | None = None,
    **options,
) -> SeriesFrame:
    """Read a CSV file or a built-in series; a path that exists wins over a built-in name.

    ``load_series(**frame.spec())`` reads a frame again.

    Args:
        data: a CSV path or a built-in name.
        builtin, path: the same, as a recorded spec names them.
        options: :func:`~lstmkit.data.series.read_series`'s keyword arguments (for a file only).

    Raises:
        UserError: neither a file nor a built-in name, options given for a built-in, or as
            :func:`~lstmkit.data.series.read_series`.

    Example:
        >>> load_series("elnino").freq
        'MS'
    """
    data = data if data is not None else path if path is not None else builtin
    if data is None:
        raise UserError(f"data: expected a CSV file or one of {', '.join(BUILTIN_SERIES)}")
    if not Path(data).exists() and str(data) in _LOADERS:
        given = {k: v for k, v in options.items() if v not in (None, (), [])}
        if given:
            raise UserError(
                f"data {data}: a built-in series takes no options, got {', '.join(given)}"
            )
        return builtin_series(str(data))
    if not Path(data).exists() and Path(data).suffix == "":
        raise UserError(
            f"data: no such file {str(data)!r}; expected a CSV file or a built-in series "
            f"({', '.join(BUILTIN_SERIES)})"
        )
    return read_series(data, **options)


__all__ = ["BUILTIN_SERIES", "builtin_series", "load_series"]
