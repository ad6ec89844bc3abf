"""The Estimator base: scikit-learn's conventions on the three estimators, one settings shape."""

import inspect
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lstmkit import Forecaster, LanguageModel, Seq2Seq, SpeechRecognizer
from lstmkit.data import Pairs
from lstmkit.errors import UserError
from lstmkit.train.estimator import SETTING_GROUPS, Estimator

ESTIMATORS = {
    LanguageModel: {"tokenizer": "char", "model": {"hidden_size": 16}, "bptt": 20},
    Seq2Seq: {"src_tokenizer": "char", "model": {"attention": "luong"}, "batch_size": 8},
    Forecaster: {"horizon": 6, "model": {"hidden_size": 8, "quantiles": (0.1, 0.5, 0.9)}},
    SpeechRecognizer: {"model": {"hidden_size": 16}, "features": {"n_mels": 20}, "batch_size": 8},
}


def data_for(cls):
    if cls is Seq2Seq:
        return Pairs(["a b", "b a"] * 5, ["x y", "y x"] * 5)
    if cls is Forecaster:
        t = pd.date_range("2000-01", periods=60, freq="MS")
        return pd.DataFrame({"month": t, "y": np.sin(np.arange(60.0))})
    return "the cat sat\n" * 5


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone_gives_an_unfitted_copy_with_equal_settings(cls):
    estimator = cls(**ESTIMATORS[cls], train={"epochs": 3})
    estimator.model_ = "fitted"  # learned state is not copied
    copy = clone(estimator)
    assert type(copy) is cls
    assert copy is not estimator
    assert copy.get_params() == estimator.get_params()
    assert copy.model is not estimator.model  # deep-copied, as sklearn does
    assert not hasattr(copy, "model_")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_get_params_are_the_constructors_arguments_stored_as_given(cls):
    given = {**ESTIMATORS[cls], "optim": {"lr": 0.01}}
    estimator = cls(**given)
    params = estimator.get_params()
    assert list(params) == [p for p in inspect.signature(cls).parameters]
    for name, value in given.items():
        assert params[name] is value


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_set_params_sets_by_name_and_refuses_an_unknown_one(cls):
    estimator = cls()
    assert estimator.set_params(train={"epochs": 2}) is estimator
    assert estimator.train == {"epochs": 2}
    with pytest.raises(UserError, match=rf"hidden_size: expected a parameter of {cls.__name__}"):
        estimator.set_params(hidden_size=8)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_estimator_takes_its_settings_in_the_same_shape(cls):
    assert issubclass(cls, Estimator)
    names = list(inspect.signature(cls).parameters)
    for group in SETTING_GROUPS:
        assert group in names
        assert inspect.signature(cls).parameters[group].default is None
    assert cls.network_config is not None


def test_repr_shows_the_settings_that_differ_from_the_defaults():
    assert repr(LanguageModel()) == "LanguageModel()"
    assert repr(LanguageModel("char", bptt=20)) == "LanguageModel(tokenizer='char', bptt=20)"
    assert repr(Forecaster(horizon=6, model={"hidden_size": 8})) == (
        "Forecaster(horizon=6, model={'hidden_size': 8})"
    )
    assert "object at 0x" not in repr(Seq2Seq())


@pytest.mark.parametrize(
    ("cls", "group", "key", "config"),
    [
        (LanguageModel, "model", "hiden_size", "LMConfig"),
        (Seq2Seq, "model", "atention", "Seq2SeqConfig"),
        (Forecaster, "model", "layers", "ForecastConfig"),
        (Forecaster, "optim", "learning_rate", "OptimConfig"),
        (LanguageModel, "train", "epoch", "TrainConfig"),
    ],
)
def test_an_unknown_setting_is_named_with_the_fields_allowed(cls, group, key, config):
    estimator = cls(**{group: {key: 1}})
    with pytest.raises(UserError, match=rf"{group}\.{key}: expected one of the {config} fields"):
        estimator.fit(data_for(cls), progress=False)


def test_a_setting_group_must_be_a_mapping():
    with pytest.raises(UserError, match="train: expected a mapping of settings, got 3"):
        LanguageModel(train=3).fit("the cat sat\n" * 5, progress=False)


def test_a_checkpoint_naming_an_unknown_parameter_is_refused_not_set(tmp_path, write_config):
    lm = LanguageModel("char", model={"hidden_size": 8}, batch_size=2, bptt=8, train={"epochs": 1})
    lm.fit("the cat sat on the mat\n" * 10, progress=False)
    folder = lm.save(tmp_path / "lm")
    config = json.loads((folder / "config.json").read_text())
    config["estimator"]["__class__"] = "os.system"
    write_config(folder, config)
    with pytest.raises(UserError, match=r"config.json: estimator.__class__: expected a parameter"):
        LanguageModel.load(folder)
    with pytest.raises(UserError, match=r"config.json: estimator.__class__: expected a parameter"):
        LanguageModel("char").fit("the cat sat\n" * 5, resume=folder, progress=False)
    config["estimator"] = ["tokenizer"]
    write_config(folder, config)
    with pytest.raises(UserError, match=r"config.json: estimator: expected a JSON object"):
        LanguageModel.load(folder)
