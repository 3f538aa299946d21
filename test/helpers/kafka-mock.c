/*
 * A Kafka cluster for tests: librdkafka's mock cluster, driven through stdin.
 *
 * Usage: kafka-mock [brokers]   (default 3; broker ids are 1..brokers)
 * Prints `bootstrap <host:port,...>`, then answers each command line with `ok` or `error <text>`:
 *   create <topic> <partitions>   a topic whose partition p is led by broker p % brokers + 1 (the mock
 *                                 would pick leaders at random, whatever replication factor it is given)
 *   down <broker> / up <broker>   closes a broker's connections and refuses new ones / lets it serve again;
 *                                 leaders do not move, so its partitions are unavailable meanwhile
 *   quit                          as does EOF: the cluster dies with the process that holds the pipe
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/*
 * librdkafka (2.0.2) can lose the wake-up of its mock thread for a request made just as it answered
 * the previous one, which then waits for its next 1 s poll (4 s for a topic at times); requests a
 * millisecond apart are answered at once.
 */
static void pause_between_requests(void) { usleep(1000); }

static rd_kafka_resp_err_t create(rd_kafka_mock_cluster_t *cluster, int brokers, const char *topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster, topic, partitions, 1);
  for (int p = 0; p < partitions && !err; p++) {
    pause_between_requests();
    err = rd_kafka_mock_partition_set_leader(cluster, topic, p, p % brokers + 1);
  }
  return err;
}

static rd_kafka_resp_err_t run(rd_kafka_mock_cluster_t *cluster, int brokers, const char *line, const char **unknown) {
  char topic[256];
  int n;
  pause_between_requests();
  if (sscanf(line, "create %255s %d", topic, &n) == 2) return create(cluster, brokers, topic, n);
  if (sscanf(line, "down %d", &n) == 1) return rd_kafka_mock_broker_set_down(cluster, n);
  if (sscanf(line, "up %d", &n) == 1) return rd_kafka_mock_broker_set_up(cluster, n);
  *unknown = "unknown command";
  return RD_KAFKA_RESP_ERR__INVALID_ARG;
}

int main(int argc, char **argv) {
  int brokers = argc > 1 ? atoi(argv[1]) : 3;
  char errstr[512];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the cluster; it connects nowhere, so its warnings are noise. */
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  rd_kafka_mock_cluster_t *cluster = rk ? rd_kafka_mock_cluster_new(rk, brokers) : NULL;
  if (!cluster) {
    fprintf(stderr, "could not create a mock cluster of %d brokers: %s\n", brokers, rk ? "" : errstr);
    return 1;
  }
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  fflush(stdout);

  char line[512];
  while (fgets(line, sizeof line, stdin) && strncmp(line, "quit", 4) != 0) {
    const char *unknown = NULL;
    rd_kafka_resp_err_t err = run(cluster, brokers, line, &unknown);
    if (err) printf("error %s\n", unknown ? unknown : rd_kafka_err2str(err));
    else printf("ok\n");
    fflush(stdout);
  }
  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
