COMMENT
lfpkt_ih_fz: a hand-frozen copy of ../mod/lfpkt_ih.mod for the tests' reference
kernels only: the gate q is a parameter, set per segment to its value at rest.

    i = gbar * q * (v - eh)
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_ih_fz
    NONSPECIFIC_CURRENT i
    RANGE gbar, eh, q
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 1e-4 (S/cm2)
    eh = -30 (mV)
    q = 0
}

ASSIGNED {
    v (mV)
    i (mA/cm2)
}

BREAKPOINT {
    i = gbar * q * (v - eh)
}
