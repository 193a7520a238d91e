COMMENT
lfpkt_na_fz: a hand-frozen copy of ../mod/lfpkt_na.mod, written for the reference
kernels of the tests only (tests/lfpykernels_active_reference.py): the gates m and h
are parameters, set per segment to their values at the cell's rest.

    ina = gbar * m^3 * h * (v - ena)
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_na_fz
    USEION na READ ena WRITE ina
    RANGE gbar, m, h
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.05 (S/cm2)
    m = 0
    h = 1
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
}

BREAKPOINT {
    ina = gbar * m * m * m * h * (v - ena)
}
