COMMENT
lfpkt_ih: a hyperpolarisation-activated cation current (h-type) of the test
suite's active cell (lfpk_hpc tests).

    i = gbar * q * (v - eh)

with one first-order gate q activated by hyperpolarisation (Boltzmann steady
state, bell-shaped time constant of tens of ms; rate forms of this test model only).
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_ih
    NONSPECIFIC_CURRENT i
    RANGE gbar, eh
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-4 (S/cm2)
    eh = -30 (mV)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
    qinf
    qtau (ms)
}

STATE {
    q
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gbar * q * (v - eh)
}

INITIAL {
    rates(v)
    q = qinf
}

DERIVATIVE states {
    rates(v)
    q' = (qinf - q) / qtau
}

PROCEDURE rates(v (mV)) {
    qinf = 1 / (1 + exp((v + 80) / 8))
    qtau = 20 + 100 * exp(-((v + 75) / 20)^2)
}
