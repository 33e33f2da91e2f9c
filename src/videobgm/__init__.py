"""videobgm: compose background music that fits a video, offline on a CPU.

Data flows one way through the stages (see ``pipeline.py``)::

    video -> features -> plan (+description) -> tokens -> model/sampling -> MIDI -> audio -> muxed video

Importing this package is cheap: heavy libraries (torch, cv2, av, gradio, ray) are imported
inside the stages that need them.
"""

__version__ = "0.1.0"
