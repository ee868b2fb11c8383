"""The SAM 2.1 / SAM 3 memory trackers.

- ``registry.py``: registry names -> how to build the networks and load an official checkpoint;
  ``build_tracker(name, checkpoint=..., device=...)`` returns the video predictor.
- ``predictor.py``: the seed notebook's predictor API; ``inference_state.py`` its typed session state;
  ``consolidation.py`` the bookkeeping of prompted frames; ``prompt_input.py``, ``preprocess.py``,
  ``postprocess.py`` what goes in and comes out.
- ``tracker.py``: one tracking step (:class:`~sam3core.sam.tracker.TrackerModel`); ``memory.py`` which
  past frames condition it.
- ``tracking_config.py``: tracking behaviour as data (:class:`TrackerConfig`); ``network_config.py``: how
  the SAM 2.1 networks (and the heads SAM 3 shares) are built; ``checkpoint.py``: reading and strict loading.
- ``networks/``: SAM 2.1's networks (Hiera, FPN neck) and the heads and memory modules both families use;
  ``sam3/``: SAM 3's configuration, ``sam3.pt`` key map, ViT trunk, neck and tracker networks.
"""
