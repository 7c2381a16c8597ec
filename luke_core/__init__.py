"""luke_core: every step of LUKE / mLUKE pretraining as a plain Python library.

The `luke` command, the Kubeflow components and the training job all call the entry
functions of the step modules; nothing here imports KFP or Kubernetes.
"""

__version__ = "0.1.0"
