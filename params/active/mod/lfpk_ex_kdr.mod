COMMENT
lfpk_ex_kdr: a delayed-rectifier potassium current of the active cells of params/hagen2022_active.py
(lfpk_hpc's example of a user's model; the kinetics of the tests' cell in
tests/data/active_cell, under another name).

    ik = gbar * n^4 * (v - ek)

with a first-order gate n (Boltzmann steady state, bell-shaped time constant;
rate forms written for lfpk_hpc; not fitted to any cell).
ENDCOMMENT

NEURON {
    SUFFIX lfpk_ex_kdr
    USEION k READ ek WRITE ik
    RANGE gbar
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.02 (S/cm2)
}

ASSIGNED {
    v (mV)
    ek (mV)
    ik (mA/cm2)
    ninf
    ntau (ms)
}

STATE {
    n
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ik = gbar * n * n * n * n * (v - ek)
}

INITIAL {
    rates(v)
    n = ninf
}

DERIVATIVE states {
    rates(v)
    n' = (ninf - n) / ntau
}

PROCEDURE rates(v (mV)) {
    ninf = 1 / (1 + exp(-(v + 35) / 10))
    ntau = 1 + 5 * exp(-((v + 45) / 25)^2)
}
