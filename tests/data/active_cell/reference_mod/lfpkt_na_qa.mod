COMMENT
lfpkt_na_qa: a hand-written quasi-active copy of ../mod/lfpkt_na.mod for the tests'
reference kernels only. Around rest (vstar, m*, h*), written out by hand:

    ina = gbar m*^3 h* (v - ena) + gbar 3 m*^2 h* (vstar - ena) dm + gbar m*^3 (vstar - ena) dh
    dm' = (bm (v - vstar) - dm) / taum,   dh' = (bh (v - vstar) - dh) / tauh

with bm = dminf/dv, bh = dhinf/dv, taum, tauh at vstar (computed analytically from
the channel's rate functions by the reference script).
ENDCOMMENT

NEURON {
    SUFFIX lfpkt_na_qa
    USEION na READ ena WRITE ina
    RANGE gbar, mstar, hstar, vstar, bm, bh, taum, tauh
}

UNITS {
    (mA) = (milliamp)
    (mV) = (millivolt)
    (S) = (siemens)
}

PARAMETER {
    gbar = 0.05 (S/cm2)
    mstar = 0
    hstar = 1
    vstar = -65 (mV)
    bm = 0 (/mV)
    bh = 0 (/mV)
    taum = 1 (ms)
    tauh = 1 (ms)
}

ASSIGNED {
    v (mV)
    ena (mV)
    ina (mA/cm2)
}

STATE {
    dm
    dh
}

INITIAL {
    dm = bm * (v - vstar)
    dh = bh * (v - vstar)
}

BREAKPOINT {
    SOLVE states METHOD cnexp
    ina = gbar * mstar * mstar * mstar * hstar * (v - ena) + gbar * 3 * mstar * mstar * hstar * (vstar - ena) * dm + gbar * mstar * mstar * mstar * (vstar - ena) * dh
}

DERIVATIVE states {
    dm' = (bm * (v - vstar) - dm) / taum
    dh' = (bh * (v - vstar) - dh) / tauh
}
