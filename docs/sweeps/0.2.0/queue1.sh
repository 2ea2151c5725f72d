export KERAS_BACKEND=tensorflow TF_CPP_MIN_LOG_LEVEL=2
P=/work/main/.venv/bin/python
run() { $P probe.py "$@" 2>&1 | grep '^{' ; $P lprobe.py runs/$1 2>&1 | grep '^{'; }
run mini600 600 '{}'
run mini600_lr1e3_d0 600 '{"learning_rate": 1e-3, "dropout": 0.0}'
run mini600_lr2e3_d0 600 '{"learning_rate": 2e-3, "dropout": 0.0}'
run mini600_d0_m25 600 '{"dropout": 0.0, "mask_probability": 0.25}'
export PRELN=1
run preln600_lr1e3_d0 600 '{"learning_rate": 1e-3, "dropout": 0.0}'
run preln600_lr2e3_d0 600 '{"learning_rate": 2e-3, "dropout": 0.0}'
$P lprobe.py random:zh_mini:0 2>&1 | grep '^{' | sed 's/random/random_preln/'
run preln2400_lr1e3_d0 2400 '{"learning_rate": 1e-3, "dropout": 0.0}'
unset PRELN
run mini2400_lr1e3_d0 2400 '{"learning_rate": 1e-3, "dropout": 0.0}'
