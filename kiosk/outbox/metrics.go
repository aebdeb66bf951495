package outbox

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metricSet holds the outbox's metrics. The gauges are read from the database at
// scrape time, so the oldest age grows between deliveries and no gauge can drift
// from what is on disk.
type metricSet struct {
	o         *Outbox
	forwarded *prometheus.CounterVec
	depth     *prometheus.Desc
	oldest    *prometheus.Desc
	dead      *prometheus.Desc
}

// scrapeTimeout bounds the database read of one scrape.
const scrapeTimeout = 2 * time.Second

func newMetricSet(o *Outbox) *metricSet {
	m := &metricSet{
		o: o,
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kioskd_outbox_forward_total",
			Help: "Delivery attempts to the backend by result: success, retryable, permanent.",
		}, []string{"result"}),
		depth:  prometheus.NewDesc("kioskd_outbox_depth", "Filings waiting to be forwarded (dead letters excluded).", nil, nil),
		oldest: prometheus.NewDesc("kioskd_outbox_oldest_age_seconds", "Age of the oldest filing waiting to be forwarded; 0 when none.", nil, nil),
		dead:   prometheus.NewDesc("kioskd_outbox_dead_letters", "Filings kept as dead letters, waiting for an operator.", nil, nil),
	}
	// Present from the first scrape, so rate() and alerts see zeros, not gaps.
	for _, r := range []string{"success", "retryable", "permanent"} {
		m.forwarded.WithLabelValues(r)
	}
	return m
}

func (m *metricSet) register(r prometheus.Registerer) error {
	if err := r.Register(m.forwarded); err != nil {
		return err
	}
	if err := r.Register(m); err != nil {
		r.Unregister(m.forwarded)
		return err
	}
	return nil
}

// Describe implements prometheus.Collector for the gauges.
func (m *metricSet) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.depth
	ch <- m.oldest
	ch <- m.dead
}

// Collect implements prometheus.Collector. Before Start and after Stop it reports
// nothing rather than a misleading zero.
func (m *metricSet) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := m.o.Stats(ctx)
	if errors.Is(err, ErrNotRunning) {
		return
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(m.depth, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(m.depth, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(m.oldest, prometheus.GaugeValue, s.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(m.dead, prometheus.GaugeValue, float64(s.DeadLetters))
}
