"""Workflow settings: the validated ``config`` of a run, resolved into one typed object.

The Snakefile loads ``workflows/config.yaml``, merges the user's ``--configfile`` and
``--config`` values, then calls :func:`config_errors` (one readable line per unknown key
or bad value, before any job starts) and Snakemake's ``validate`` (which fills in the
schema's defaults). :func:`resolve` turns the result into :class:`WorkflowSettings`:
paths as :class:`~pathlib.Path`, the preset's defaults for ``models``,
``multimer_models``, ``num_predictions_per_model`` and ``num_recycle``, and the derived
folders (``params_dir``, ``cache_dir``).

Complexes run the AlphaFold-Multimer v3 models (``multimer_models``), each
``num_predictions_per_model`` times with seeds ``seed + K`` (AlphaFold 2.3's
``model_N_multimer_v3_pred_K``). Their recycling is the model's own (up to 20 passes,
stopped early once the CA distances move by less than 0.5 A, as AlphaFold 2.3) unless
``num_recycle`` is set, or the preset sets it (the demo: 1).

``--config key=value`` hands Snakemake strings for booleans (``use_templates=false``)
and YAML-ish lists (``models=[model_1_ptm,model_2_ptm]``); :func:`normalise` turns them
into the types the schema expects, so the command line and a YAML file behave the same.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Per-preset defaults for the keys whose config value means "the preset's".
PRESET_MODELS: dict[str, tuple[str, ...]] = {
    "full_dbs": tuple(f"model_{i}_ptm" for i in range(1, 6)),
    "reduced_dbs": tuple(f"model_{i}_ptm" for i in range(1, 6)),
    "demo": ("model_1_ptm",),
}
PRESET_NUM_RECYCLE = {"full_dbs": 3, "reduced_dbs": 3, "demo": 1}
#: The models complexes run: AlphaFold 2.3's five multimer v3 models (demo: the first).
PRESET_MULTIMER_MODELS: dict[str, tuple[str, ...]] = {
    "full_dbs": tuple(f"model_{i}_multimer_v3" for i in range(1, 6)),
    "reduced_dbs": tuple(f"model_{i}_multimer_v3" for i in range(1, 6)),
    "demo": ("model_1_multimer_v3",),
}
#: Predictions (seeds) per multimer model: 5 as AlphaFold 2.3; the demo 1.
PRESET_NUM_PREDICTIONS = {"full_dbs": 5, "reduced_dbs": 5, "demo": 1}
#: Multimer recycling when num_recycle is not set: None is the model's own (20 passes at
#: most, early stop at 0.5 A); the demo keeps it as small as its monomer's.
PRESET_MULTIMER_NUM_RECYCLE: dict[str, int | None] = {
    "full_dbs": None, "reduced_dbs": None, "demo": 1,
}
#: The most recycling passes a multimer model runs by default (AlphaFold 2.3).
MULTIMER_MAX_RECYCLE = 20
_PREDICTION = re.compile(r"^(model_[1-5]_multimer_v3)_pred_(\d+)$")
#: L-BFGS iterations per relax pass (0: no limit, as AlphaFold). The demo caps them: an
#: untrained model never converges and would otherwise grind for minutes.
PRESET_RELAX_MAX_ITERATIONS = {"full_dbs": 0, "reduced_dbs": 0, "demo": 1000}

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class WorkflowSettings:
    """Everything a run needs to know, typed and with the preset's defaults applied."""

    input: Path
    output_dir: Path
    preset: str
    database_dir: Path
    params_dir: Path
    models: tuple[str, ...]
    num_recycle: int
    relax: str
    relax_max_iterations: int
    max_template_date: str
    msa_mode: str
    use_templates: bool
    precomputed_msa_dir: Path | None
    msa_server_url: str
    mmseqs_uniref_db: Path
    mmseqs_env_db: Path | None
    allow_untrained_params: bool
    seed: int
    cache_dir: Path
    max_length: int
    template_fetch_limit: int
    database_dir_set: bool = True
    multimer_models: tuple[str, ...] = PRESET_MULTIMER_MODELS["full_dbs"]
    num_predictions_per_model: int = 5
    multimer_num_recycle: int | None = None
    model_dtype: str = "auto"
    attention: str = "auto"

    @property
    def untrained_allowed(self) -> bool:
        """The demo may always run untrained; other presets only when the user says so."""
        return self.preset == "demo" or self.allow_untrained_params

    @property
    def multimer_predictions(self) -> tuple[str, ...]:
        """A complex's prediction jobs: ``<model>_pred_<K>`` for each model and seed K."""
        return tuple(f"{model}_pred_{k}" for model in self.multimer_models
                     for k in range(self.num_predictions_per_model))


def base_model_name(name: str) -> str:
    """The model (and its parameter file) of a prediction: ``model_1_multimer_v3_pred_2``
    -> ``model_1_multimer_v3``; monomer names are their own."""
    match = _PREDICTION.match(name)
    return match.group(1) if match else name


def is_multimer_prediction(name: str) -> bool:
    """Whether ``name`` is a multimer prediction (``model_N_multimer_v3_pred_K``)."""
    return _PREDICTION.match(name) is not None


def normalise(config: MutableMapping[str, Any], schema: Mapping[str, Any]) -> None:
    """Coerce ``--config`` strings to the schema's types, in place (booleans, integers, lists)."""
    properties = schema.get("properties", {})
    for key, value in list(config.items()):
        kind = properties.get(key, {}).get("type")
        if not isinstance(value, str):
            if kind == "array" and isinstance(value, tuple):
                config[key] = list(value)
            continue
        text = value.strip()
        if kind == "boolean" and text.lower() in _TRUE | _FALSE:
            config[key] = text.lower() in _TRUE
        elif kind == "integer" and text.lstrip("-").isdigit():
            config[key] = int(text)
        elif kind == "array":
            inner = text[1:-1] if text.startswith("[") and text.endswith("]") else text
            config[key] = [item.strip().strip("'\"") for item in inner.split(",") if item.strip()]


def config_errors(config: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """One message per problem: unknown keys (with the known ones) and bad values."""
    from jsonschema import Draft202012Validator

    known = sorted(schema.get("properties", {}))
    messages: list[str] = []
    for key in config:
        if key not in known:
            messages.append(f"unknown config key '{key}' (known keys: {', '.join(known)})")
    validator = Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(dict(config)), key=lambda e: list(e.path)):
        if error.validator == "additionalProperties":
            continue
        where = ".".join(str(p) for p in error.path) or "config"
        spec = schema.get("properties", {}).get(str(error.path[0]) if error.path else "", {})
        hint = ""
        if "enum" in spec:
            hint = f"; choose one of {', '.join(map(str, spec['enum']))}"
        elif "description" in spec:
            hint = f"; expected {spec['description']}"
        messages.append(f"config '{where}': {error.message}{hint}")
    return messages


def resolve(config: Mapping[str, Any]) -> WorkflowSettings:
    """The settings of a validated config (defaults already filled in)."""
    preset = str(config["preset"])
    database_dir = Path(str(config["database_dir"]))
    output_dir = Path(str(config["output_dir"]))
    models = tuple(config.get("models") or PRESET_MODELS[preset])
    num_recycle = int(config.get("num_recycle", -1))
    multimer_num_recycle = PRESET_MULTIMER_NUM_RECYCLE[preset] if num_recycle < 0 \
        else num_recycle
    if num_recycle < 0:
        num_recycle = PRESET_NUM_RECYCLE[preset]
    predictions = int(config.get("num_predictions_per_model") or 0) or \
        PRESET_NUM_PREDICTIONS[preset]
    params_dir = Path(str(config["params_dir"])) if config.get("params_dir") else \
        database_dir / "params"
    uniref_db = Path(str(config["mmseqs_uniref_db"])) if config.get("mmseqs_uniref_db") else \
        database_dir / "colabfold" / "uniref30_2302_db"
    env_value = str(config.get("mmseqs_env_db") or "")
    env_db = None if env_value == "none" else (
        Path(env_value) if env_value else database_dir / "colabfold" / "colabfold_envdb_202108_db"
    )
    precomputed = str(config.get("precomputed_msa_dir") or "")
    cache = str(config.get("cache_dir") or "")
    return WorkflowSettings(
        input=Path(str(config.get("input") or "")),
        output_dir=output_dir,
        preset=preset,
        database_dir=database_dir,
        params_dir=params_dir,
        models=models,
        num_recycle=num_recycle,
        relax=str(config["relax"]),
        relax_max_iterations=(
            PRESET_RELAX_MAX_ITERATIONS[preset]
            if int(config.get("relax_max_iterations", -1)) < 0
            else int(config["relax_max_iterations"])
        ),
        max_template_date=str(config["max_template_date"]),
        msa_mode=str(config["msa_mode"]),
        use_templates=bool(config["use_templates"]),
        precomputed_msa_dir=Path(precomputed) if precomputed else None,
        msa_server_url=str(config["msa_server_url"]),
        mmseqs_uniref_db=uniref_db,
        mmseqs_env_db=env_db,
        allow_untrained_params=bool(config["allow_untrained_params"]),
        seed=int(config["seed"]),
        cache_dir=Path(cache) if cache else output_dir / "cache",
        max_length=int(config["max_length"]),
        template_fetch_limit=int(config["template_fetch_limit"]),
        database_dir_set=bool(str(config["database_dir"]).strip()),
        multimer_models=tuple(config.get("multimer_models") or PRESET_MULTIMER_MODELS[preset]),
        num_predictions_per_model=predictions,
        multimer_num_recycle=multimer_num_recycle,
        model_dtype=str(config.get("model_dtype", "auto")),
        attention=str(config.get("attention", "auto")),
    )
