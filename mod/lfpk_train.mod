COMMENT
LfpkTrain: an artificial cell that sends an event at every time of a Vector
(lfpk_hpc, hybrid ground truth).

The hybrid ground truth drives its synapses with the spikes of the point-neuron
network that reach them: the spike times of the presynaptic neurons bound to a
segment plus each synapse's delay, merged and sorted. A train holds those times
(ms, ascending, >= 0) and sends them to itself one at a time, so NEURON's event
queue holds one pending event per train, not every event of the simulation.
Several equal times are several events at that time. Two ways to pass them on:

- to point processes through the train's NetCons (their weights are the synapses'
  weights):
      train = h.LfpkTrain(); train.times(tvec); h.NetCon(train, syn)  (delay 0)
- straight into a state variable of a segment, adding each event's own weight
  (mod/lfpk_hsyn.mod: the current-based exponential synapses of a segment as one
  density mechanism):
      train.kicks(tvec, wvec)
      h.setpointer(seg._ref_A_lfpk_hsyn, "target", train)
  (an event at t adds wvec[k] to the target, exactly as a NetCon event of weight
  wvec[k] adds it to the state of an ExpSynI, and nothing is sent on).

The train keeps references to its Vectors; set them before finitialize. Both take
an optional range, times(tvec, first, upto) and kicks(tvec, wvec, first, upto): the
events tvec[first:upto] only, so that one Vector can hold the events of many trains
(a Vector made from numpy costs about 10 us; a range costs nothing).
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL LfpkTrain
    POINTER src, wsrc, target
    RANGE sent, kick
}

ASSIGNED {
    pos           : index of the next time to send in the Vector
    upcoming (ms) : that time
    weight        : that event's weight (kicks only)
    sent          : events sent so far (since finitialize)
    kick          : 1: add each event's weight to target; 0: send events on
    src           : the Vector of times (an opaque reference)
    wsrc          : the Vector of weights (an opaque reference; kicks only)
    target        : the state variable the kicks go to
    first         : index of the first event of the Vector this train sends
    upto          : index after its last one (-1: the Vector's end)
}

INITIAL {
    pos = first
    sent = 0
    if (advance()) {
        net_send(wait(), 1)
    }
}

NET_RECEIVE (w) {
    if (flag == 1) {
        if (kick) {
            target = target + weight
        } else {
            net_event(t)
        }
        sent = sent + 1
        if (advance()) {
            net_send(wait(), 1)
        }
    }
}

FUNCTION wait() {
    : the delay to the next time, never below 0: t (the delivery time of the last
    : event) can exceed the next time by a rounding error, and NEURON stops on a
    : negative delay
    wait = upcoming - t
    if (wait < 0) {
        wait = 0
    }
}

FUNCTION advance() {
    : 1 and the next time (and weight) in upcoming if there is one, else 0
VERBATIM
    {
        void* vec = (void*)(_p_src);
        int k = (int)pos;
        int stop = vec ? vector_capacity(vec) : 0;
        if (upto >= 0 && (int)upto < stop) {
            stop = (int)upto;
        }
        _ladvance = 0.;
        if (vec && k < stop) {
            upcoming = vector_vec(vec)[k];
            if (kick) {
                weight = vector_vec((void*)(_p_wsrc))[k];
            }
            pos = k + 1;
            _ladvance = 1.;
        }
    }
ENDVERBATIM
}

PROCEDURE times() {
    : times(tvec[, first, upto]): the event times (tvec[first:upto])
VERBATIM
    {
        first = ifarg(2) ? *getarg(2) : 0.;
        upto = ifarg(3) ? *getarg(3) : -1.;
        void** slot = (void**)(&_p_src);
        void* vec = NULL;
        if (ifarg(1)) {
            vec = vector_arg(1);
            hoc_obj_ref(*vector_pobj(vec));
        }
        if (*slot) {
            hoc_obj_unref(*vector_pobj(*slot));
        }
        *slot = vec;
    }
ENDVERBATIM
}

PROCEDURE kicks() {
    : kicks(tvec, wvec[, first, upto]): the event times and their weights, added to
    : target (tvec[first:upto] and wvec[first:upto])
VERBATIM
    {
        first = ifarg(3) ? *getarg(3) : 0.;
        upto = ifarg(4) ? *getarg(4) : -1.;
        void** tslot = (void**)(&_p_src);
        void** wslot = (void**)(&_p_wsrc);
        void* tv = vector_arg(1);
        void* wv = vector_arg(2);
        if (vector_capacity(tv) != vector_capacity(wv)) {
            hoc_execerror("LfpkTrain.kicks: times and weights differ in length", 0);
        }
        hoc_obj_ref(*vector_pobj(tv));
        hoc_obj_ref(*vector_pobj(wv));
        if (*tslot) {
            hoc_obj_unref(*vector_pobj(*tslot));
        }
        if (*wslot) {
            hoc_obj_unref(*vector_pobj(*wslot));
        }
        *tslot = tv;
        *wslot = wv;
    }
ENDVERBATIM
    kick = 1
}

DESTRUCTOR {
VERBATIM
    {
        void* vec = (void*)(_p_src);
        if (vec) {
            hoc_obj_unref(*vector_pobj(vec));
        }
        vec = (void*)(_p_wsrc);
        if (vec) {
            hoc_obj_unref(*vector_pobj(vec));
        }
    }
ENDVERBATIM
}
