"""Code that runs INSIDE the sandbox: load the submission, call it through probes, write observations.

Nothing here scores anything. What it writes under ``out/`` is treated by the trusted side as untrusted
data: JSON and ``.npz`` only, validated and size-capped when read back (``grader/artifacts.py``).
"""
