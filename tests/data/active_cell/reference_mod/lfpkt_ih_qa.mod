COMMENT
lfpkt_ih_qa: a hand-written quasi-active copy of ../mod/lfpkt_ih.mod for the tests'
reference kernels only. Around rest (vstar, q*):

    i = gbar q* (v - eh) + gbar (vstar - eh) dq,   dq' = (bq (v - vstar) - dq) / tauq
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_ih_qa
    NONSPECIFIC_CURRENT i
    RANGE gbar, eh, qstar, vstar, bq, tauq
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-4 (S/cm2)
    eh = -30 (mV)
    qstar = 0
    vstar = -65 (mV)
    bq = 0 (/mV)
    tauq = 1 (ms)
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

STATE {
    dq
}

INITIAL {
    dq = bq * (v - vstar)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    i = gbar * qstar * (v - eh) + gbar * (vstar - eh) * dq
}

DERIVATIVE states {
    dq' = (bq * (v - vstar) - dq) / tauq
}
