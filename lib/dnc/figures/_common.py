"""Helpers shared by the figure modules: the run a figure draws and the layer it shows."""

from __future__ import annotations

from dnc.experiments import paper_a as experiments


def deep_linear_run(result, profile):
    """(setting, result): the deep linear run of paper A's figures.

    The run is trained (or read from the cache) for ``profile`` unless ``result`` is given; its
    own config, epochs and lr then replace the setting's.
    """
    setting = experiments.deep_linear_setting(profile if result is None else None)
    if result is not None:
        setting = experiments.Setting(
            result.config,
            result.epochs,
            result.lr,
            setting.layer,
            setting.figure_epochs,
            setting.early_epochs,
            setting.knockout_epochs,
            setting.log_epochs,
        )
    return setting, result or experiments.run(setting)


def figure_layer(setting, layer) -> int:
    """The layer l a figure shows: ``layer`` if given, else the setting's."""
    return setting.layer if layer is None else int(layer)
