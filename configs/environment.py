"""The environment TensorFlow must find when first imported (set by pipeline/env.py, the edge worker, the tests)."""

# hub.KerasLayer only works with tf-keras; TF 2.16 reads this when TensorFlow is first imported.
KERAS_2 = {"TF_USE_LEGACY_KERAS": "1"}
# TensorFlow's C++ logs: warnings and errors only.
QUIET_LOGS = {"TF_CPP_MIN_LOG_LEVEL": "2"}
TENSORFLOW = {**KERAS_2, **QUIET_LOGS}
