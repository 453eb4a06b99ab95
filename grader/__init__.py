"""dl-grader: sandboxed, reference-calibrated grading of PyTorch assignments.

The pipeline, one module per stage (plain data between them):

    spec.py -> plan.py -> sandbox/ (runner/ inside) -> artifacts.py -> scoring.py -> report.py

``pipeline.py`` strings the stages together for a batch; ``cli.py`` is the command line.
"""

__version__ = "0.1.0"
