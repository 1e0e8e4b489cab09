#include "core/metrics.hpp"

namespace fox::metrics {

Counters g_counters;

}  // namespace fox::metrics
