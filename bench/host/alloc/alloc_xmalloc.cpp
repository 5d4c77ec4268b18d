// alloc-xmalloc: producer and consumer in the manner of xmalloc-test (Lever and Boreham), as
// mimalloc-bench describes it: one thread allocates, another frees. The producer allocates
// batches of 256 blocks of random sizes (16 to 512 B), writes into each, and passes each batch
// through a bounded queue (16 batches, a mutex and two condition variables) to the consumer,
// which reads and frees every block. Every free is thus of a block another thread allocated,
// the case a per-thread cache has to send back to its owner. One operation is one block
// allocated by the producer and freed by the consumer.
//   ALLOC-RESULT alloc-xmalloc seconds=S ops=N ops_per_s=X ns_per_op=X
#include "workload.hpp"

using namespace alloc_bench;

namespace {

constexpr size_t kBatch = 256;
constexpr size_t kSlots = 16;
constexpr size_t kMinSize = 16;
constexpr size_t kMaxSize = 512;

struct Queue {
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
    pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
    void* slots[kSlots][kBatch];
    size_t head = 0; // next batch to consume
    size_t tail = 0; // next batch to produce
    uint64_t batches = 0;
};

Queue queue;

void* consumer(void*) {
    pin_to_nth_cpu(1);
    unsigned sum = 0;
    for (uint64_t b = 0; b < queue.batches; ++b) {
        pthread_mutex_lock(&queue.lock);
        while (queue.head == queue.tail)
            pthread_cond_wait(&queue.not_empty, &queue.lock);
        pthread_mutex_unlock(&queue.lock);
        void** batch = queue.slots[queue.head % kSlots];
        for (size_t i = 0; i < kBatch; ++i) {
            sum += static_cast<unsigned char*>(batch[i])[0];
            std::free(batch[i]);
        }
        pthread_mutex_lock(&queue.lock);
        ++queue.head;
        pthread_cond_signal(&queue.not_full);
        pthread_mutex_unlock(&queue.lock);
    }
    escape(&sum);
    return nullptr;
}

} // namespace

int main(int argc, char** argv) {
    const bool quick = quick_mode(argc, argv);
    queue.batches = quick ? 8000 : 40000;
    pin_to_nth_cpu(0);
    Rng rng(0x3a110c);
    const double t0 = now_seconds();
    pthread_t thread;
    pthread_create(&thread, nullptr, consumer, nullptr);
    for (uint64_t b = 0; b < queue.batches; ++b) {
        pthread_mutex_lock(&queue.lock);
        while (queue.tail - queue.head == kSlots)
            pthread_cond_wait(&queue.not_full, &queue.lock);
        pthread_mutex_unlock(&queue.lock);
        void** batch = queue.slots[queue.tail % kSlots];
        for (size_t i = 0; i < kBatch; ++i) {
            const size_t size = rng.range(kMinSize, kMaxSize);
            char* p = static_cast<char*>(std::malloc(size));
            if (p == nullptr)
                std::abort();
            p[0] = char(i);
            p[size - 1] = char(i);
            batch[i] = p;
        }
        pthread_mutex_lock(&queue.lock);
        ++queue.tail;
        pthread_cond_signal(&queue.not_empty);
        pthread_mutex_unlock(&queue.lock);
    }
    pthread_join(thread, nullptr);
    const double seconds = now_seconds() - t0;
    const uint64_t ops = queue.batches * kBatch;
    std::printf("ALLOC-RESULT alloc-xmalloc seconds=%.6f ops=%llu ops_per_s=%.1f ns_per_op=%.3f\n",
                seconds, (unsigned long long)ops, double(ops) / seconds,
                seconds * 1e9 / double(ops));
    return 0;
}
