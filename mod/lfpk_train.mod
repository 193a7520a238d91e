COMMENT
LfpkTrain: an artificial cell that emits an event at every time of a Vector
(lfpk_hpc, hybrid ground truth).

The hybrid ground truth drives each synapse (one point process per segment and
synapse model) with the spikes of the point-neuron network that reach it: the spike
times of the presynaptic neurons bound to that segment plus each synapse's delay,
merged and sorted. A train holds those times (ms, ascending, >= 0) and sends them
one at a time to itself, so NEURON's event queue holds one pending event per
train, not every event of the simulation; each arrival is passed on through the
train's NetCons (their weights are the synapses' weights).

    train = h.LfpkTrain()
    train.times(vec)     : the event times (the train keeps a reference to vec;
                           set them before finitialize)
    h.NetCon(train, syn) : weight = the synapse's weight, delay 0

Several times that are equal are delivered as several events at that time.
ENDCOMMENT

NEURON {
    THREADSAFE
    ARTIFICIAL_CELL LfpkTrain
    POINTER src
    RANGE sent
}

ASSIGNED {
    pos           : index of the next time to send in the Vector
    upcoming (ms) : that time
    sent          : events sent so far (since finitialize)
    src           : the Vector of times (an opaque reference)
}

INITIAL {
    pos = 0
    sent = 0
    if (advance()) {
        net_send(upcoming - t, 1)
    }
}

NET_RECEIVE (w) {
    if (flag == 1) {
        net_event(t)
        sent = sent + 1
        if (advance()) {
            net_send(upcoming - t, 1)
        }
    }
}

FUNCTION advance() {
    : 1 and the next time in upcoming if there is one, else 0
VERBATIM
    {
        void* vec = (void*)(_p_src);
        int k = (int)pos;
        _ladvance = 0.;
        if (vec && k < vector_capacity(vec)) {
            upcoming = vector_vec(vec)[k];
            pos = k + 1;
            _ladvance = 1.;
        }
    }
ENDVERBATIM
}

PROCEDURE times() {
VERBATIM
    {
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

DESTRUCTOR {
VERBATIM
    {
        void* vec = (void*)(_p_src);
        if (vec) {
            hoc_obj_unref(*vector_pobj(vec));
        }
    }
ENDVERBATIM
}
