/* Prometheus text exposition of the server's counters and the per-chunk processing time
 * histogram. Counters live in the server object as atomics (media workers update them too). */
#include <stdio.h>
#include <string.h>

#include "server.h"

static const double bounds[AK_HIST_BUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   1.0};

void ak__metrics_observe(ak_metrics *m, double seconds) {
  int b = 0;
  while (b < AK_HIST_BUCKETS && seconds > bounds[b]) b++;
  m->hist[b]++;
  m->hist_sum_ns += (uint64_t)(seconds * 1e9);
  m->hist_count++;
}

#define APPEND(...)                                   \
  do {                                                \
    int _n = snprintf(buf + o, cap - o, __VA_ARGS__); \
    if (_n < 0 || (size_t)_n >= cap - o) return -1;   \
    o += (size_t)_n;                                  \
  } while (0)

#define COUNTER(name, help, value)                                             \
  APPEND("# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
         (unsigned long long)(value))

int ak__metrics_render(const ak_server *s, char *buf, size_t cap) {
  const ak_metrics *m = &s->m;
  size_t o = 0;
  APPEND(
      "# HELP avatarkit_sessions_active Open ingress sessions.\n"
      "# TYPE avatarkit_sessions_active gauge\navatarkit_sessions_active %d\n",
      s->n_sessions);
  COUNTER("avatarkit_sessions_total", "Ingress sessions accepted.", m->sessions_total);
  COUNTER("avatarkit_requests_total", "Audio requests (req_id) started.", m->requests_total);
  COUNTER("avatarkit_requests_interrupted_total", "Requests stopped by CLIENT_INTERRUPT.",
          m->requests_interrupted);
  COUNTER("avatarkit_motion_frames_total", "Motion frames sent.", m->frames_total);
  COUNTER("avatarkit_opus_packets_total", "Opus packets sent.", m->packets_total);
  APPEND(
      "# HELP avatarkit_audio_seconds_total Input audio processed, seconds.\n"
      "# TYPE avatarkit_audio_seconds_total counter\navatarkit_audio_seconds_total %.3f\n",
      (double)m->audio_samples_16k / 16000.0);
  COUNTER("avatarkit_received_bytes_total", "WebSocket payload bytes received.", m->bytes_in);
  COUNTER("avatarkit_sent_bytes_total", "WebSocket payload bytes sent.", m->bytes_out);
  COUNTER("avatarkit_session_tokens_issued_total", "Session tokens issued.", m->http_tokens_issued);
  APPEND("# HELP avatarkit_errors_total Errors by kind.\n# TYPE avatarkit_errors_total counter\n");
  APPEND("avatarkit_errors_total{kind=\"upgrade_refused\"} %llu\n",
         (unsigned long long)m->upgrades_refused);
  APPEND("avatarkit_errors_total{kind=\"protocol\"} %llu\n",
         (unsigned long long)m->protocol_errors);
  APPEND("avatarkit_errors_total{kind=\"idle_timeout\"} %llu\n",
         (unsigned long long)m->idle_timeouts);
  APPEND("avatarkit_errors_total{kind=\"token_expired\"} %llu\n",
         (unsigned long long)m->token_expiry_closes);
  APPEND("avatarkit_errors_total{kind=\"slow_client\"} %llu\n",
         (unsigned long long)m->slow_client_drops);
  COUNTER("avatarkit_api_key_failures_total",
          "Token API requests refused for a missing, wrong or oversized API key.",
          m->api_key_failures);
  COUNTER("avatarkit_token_rate_limited_total",
          "Token API requests refused by --token-rate-limit (429).", m->token_rate_limited);
  APPEND(
      "# HELP avatarkit_sessions_rate_limited_total WebSocket upgrades refused (429) by "
      "the new-session rate limits (--session-rate-ip, --session-rate-app).\n"
      "# TYPE avatarkit_sessions_rate_limited_total counter\n");
  APPEND("avatarkit_sessions_rate_limited_total{scope=\"ip\"} %llu\n",
         (unsigned long long)m->session_rate_limited_ip);
  APPEND("avatarkit_sessions_rate_limited_total{scope=\"app\"} %llu\n",
         (unsigned long long)m->session_rate_limited_app);
  if (s->session_ip_rate) {
    APPEND(
        "# HELP avatarkit_session_rate_addresses Client addresses with a bucket not yet "
        "refilled (at most --session-rate-table-size).\n"
        "# TYPE avatarkit_session_rate_addresses gauge\navatarkit_session_rate_addresses "
        "%zu\n",
        ak__bucket_table_live(s->session_ip_rate, s->cfg.session_rate_ip, s->cfg.session_burst_ip,
                              ak__now_us()));
    COUNTER("avatarkit_session_rate_evictions_total",
            "Per-address buckets evicted before they refilled because the table was full.",
            ak__bucket_table_evictions(s->session_ip_rate));
  }
  COUNTER("avatarkit_token_table_full_total",
          "Upgrades refused because the single-use token table was full (503).",
          m->token_table_full);
  APPEND(
      "# HELP avatarkit_token_table_entries Single-use tokens remembered until expiry.\n"
      "# TYPE avatarkit_token_table_entries gauge\navatarkit_token_table_entries %zu\n",
      ak__token_set_count(s->seen));
  if (s->redis) {
    COUNTER("avatarkit_redis_failures_total",
            "Redis connects and commands that failed (--redis); each refuses an upgrade or "
            "is a failed probe.",
            m->redis_failures);
    APPEND(
        "# HELP avatarkit_redis_up Whether the shared token store answered last time.\n"
        "# TYPE avatarkit_redis_up gauge\navatarkit_redis_up %d\n",
        ak__redis_up(s->redis));
  }
  APPEND(
      "# HELP avatarkit_connection_limit Open connections allowed (--max-connections).\n"
      "# TYPE avatarkit_connection_limit gauge\navatarkit_connection_limit %d\n",
      s->max_connections);
  APPEND(
      "# HELP avatarkit_connections_open Open connections (HTTP and WebSocket).\n"
      "# TYPE avatarkit_connections_open gauge\navatarkit_connections_open %d\n",
      s->n_wsi - s->n_wsi_base);
  COUNTER("avatarkit_connections_refused_total",
          "Connections closed at accept because --max-connections were open.",
          m->connections_refused);
  COUNTER("avatarkit_log_lines_dropped_total",
          "Log lines dropped because the log queue was full (stderr too slow).",
          ak__log_dropped(s));
  APPEND(
      "# HELP avatarkit_chunk_processing_seconds Time to turn one audio chunk into motion "
      "and Opus.\n# TYPE avatarkit_chunk_processing_seconds histogram\n");
  uint64_t cum = 0;
  for (int b = 0; b < AK_HIST_BUCKETS; b++) {
    cum += m->hist[b];
    APPEND("avatarkit_chunk_processing_seconds_bucket{le=\"%g\"} %llu\n", bounds[b],
           (unsigned long long)cum);
  }
  cum += m->hist[AK_HIST_BUCKETS];
  APPEND("avatarkit_chunk_processing_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  APPEND("avatarkit_chunk_processing_seconds_sum %.6f\n", (double)m->hist_sum_ns / 1e9);
  APPEND("avatarkit_chunk_processing_seconds_count %llu\n", (unsigned long long)m->hist_count);
  int n = ak__ingress_metrics_render(s, buf + o, cap - o);
  if (n < 0) return -1;
  o += (size_t)n;
  return (int)o;
}
