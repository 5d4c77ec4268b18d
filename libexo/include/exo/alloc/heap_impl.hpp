// The slab core's member functions (included by exo/alloc/heap.hpp; see there for the locking).
#pragma once

namespace exo::alloc {

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::SpanList::push_front(Span* s) {
    s->prev = nullptr;
    s->next = head;
    if (head)
        head->prev = s;
    else
        tail = s;
    head = s;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::SpanList::push_back(Span* s) {
    s->next = nullptr;
    s->prev = tail;
    if (tail)
        tail->next = s;
    else
        head = s;
    tail = s;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::SpanList::remove(Span* s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        tail = s->prev;
    s->prev = s->next = nullptr;
}

// Takes up to `want` objects of `cls` out of its spans (fuller spans first), calling
// emit(object) for each in ascending address order within a span (class lock held).
template <PageRunSource P, BasicLock L, typename M>
template <typename Emit>
uint32_t Heap<P, L, M>::take(unsigned cls, uint32_t want, Emit emit) {
    Central& c = central_[cls];
    uint32_t taken = 0;
    while (taken < want) {
        Span* span = c.partial.head;
        if (!span) {
            span = new_span(cls);
            if (!span)
                break;
            c.spans++;
            c.empty++;
            c.partial.push_front(span);
        }
        if (span->used == 0)
            c.empty--;
        const uint32_t words = (span->objects + 63) / 64;
        for (uint32_t w = span->hint; w < words && taken < want; ++w) {
            uint64_t free_bits = ~span->bitmap[w];
            while (free_bits && taken < want) {
                unsigned bit = static_cast<unsigned>(__builtin_ctzll(free_bits));
                free_bits &= free_bits - 1;
                span->bitmap[w] |= uint64_t{1} << bit;
                if (!emit(span->base + (w * 64 + bit) * span->size, span->size)) {
                    span->bitmap[w] &= ~(uint64_t{1} << bit); // no room left: not taken
                    want = taken;
                    break;
                }
                taken++;
                span->used++;
            }
            if (~span->bitmap[w] == 0)
                span->hint = w + 1;
        }
        if (span->used == 0)
            c.empty++; // the emitter refused the first object: still empty
        if (span->used == span->objects)
            c.partial.remove(span); // full spans are on no list
    }
    c.out += taken;
    return taken;
}

template <PageRunSource P, BasicLock L, typename M>
uint32_t Heap<P, L, M>::refill(unsigned cls, uint32_t want, void** head) {
    LockGuard guard(central_[cls].lock);
    void* list = nullptr;
    uint32_t taken = take(cls, want, [&](uintptr_t address, uint32_t) {
        void* object = reinterpret_cast<void*>(address);
        *static_cast<uintptr_t*>(object) = encode_link(list, object, secret_);
        list = object;
        return true;
    });
    *head = list;
    return taken;
}

template <PageRunSource P, BasicLock L, typename M>
uint32_t Heap<P, L, M>::refill_runs(unsigned cls, uint32_t want, ObjectRun* runs, uint32_t max_runs,
                                    uint32_t* run_count) {
    LockGuard guard(central_[cls].lock);
    uint32_t n = 0;
    uint32_t taken = take(cls, want, [&](uintptr_t address, uint32_t size) {
        if (n && runs[n - 1].first + runs[n - 1].count * uintptr_t{size} == address) {
            runs[n - 1].count++;
            return true;
        }
        if (n == max_runs)
            return false;
        runs[n++] = {address, 1};
        return true;
    });
    *run_count = n;
    return taken;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::flush_array(unsigned cls, const uintptr_t* objects, uint32_t count) {
    Central& c = central_[cls];
    LockGuard guard(c.lock);
    for (uint32_t i = 0; i < count; ++i)
        return_object(c, cls, reinterpret_cast<void*>(objects[i]));
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::flush(unsigned cls, void* head, uint32_t count) {
    Central& c = central_[cls];
    LockGuard guard(c.lock);
    void* object = head;
    for (uint32_t i = 0; i < count && object; ++i) {
        uintptr_t next = decode_link(object, secret_);
        return_object(c, cls, object);
        if (i + 1 < count && !link_plausible(next)) {
            report(HeapError::CorruptLink, object);
            return; // the rest of the list is lost (leaked), never followed
        }
        object = reinterpret_cast<void*>(next);
    }
}

// One object back into its span (class lock held). The caller's cache validated the pointer
// when it was freed, but a corrupted link can name anything, so it is checked again here.
template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::return_object(Central& c, unsigned cls, void* object) {
    Span* span = map_.lookup(object);
    if (!span || span->cls != cls) {
        report(HeapError::CorruptLink, object);
        return;
    }
    uintptr_t offset = reinterpret_cast<uintptr_t>(object) - span->base;
    uint64_t index = (offset * span->reciprocal) >> 40;
    if (index * span->size != offset || index >= span->objects) {
        report(HeapError::CorruptLink, object);
        return;
    }
    uint64_t bit = uint64_t{1} << (index % 64);
    uint64_t& word = span->bitmap[index / 64];
    if (!(word & bit)) {
        report(HeapError::DoubleFree, object);
        return;
    }
    word &= ~bit;
    if (index / 64 < span->hint)
        span->hint = static_cast<uint32_t>(index / 64);
    c.out--;
    if (span->used-- == span->objects)
        c.partial.push_front(span); // it was full: back on the list
    if (span->used == 0) {
        c.partial.remove(span);
        if (c.empty >= kKeepEmptySpans) {
            c.spans--;
            release_span(c, span);
        } else {
            c.empty++;
            c.partial.push_back(span); // refills prefer fuller spans, so empties can go back
        }
    }
}

template <PageRunSource P, BasicLock L, typename M>
Span* Heap<P, L, M>::new_span(unsigned cls) {
    LockGuard guard(page_lock_);
    size_t pages = span_pages(cls);
    Result<void*> run = pages_->allocate_pages(pages, kPageSize);
    if (!run.ok())
        return nullptr;
    Span* span = map_run(run.value(), pages);
    if (!span) {
        pages_->free_pages(run.value(), pages);
        return nullptr;
    }
    span->size = static_cast<uint32_t>(class_size(cls));
    span->reciprocal = reciprocal(span->size);
    span->objects = span_objects(cls);
    span->used = 0;
    span->hint = 0;
    for (uint32_t i = span->objects; i < kMaxObjectsPerSpan; ++i)
        span->bitmap[i / 64] |= uint64_t{1} << (i % 64); // past the end: never handed out
    span->cls = cls; // published by map_run's entries only after this lock is released
    span_pages_ += pages;
    return span;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::release_span(Central&, Span* span) {
    LockGuard guard(page_lock_);
    span_pages_ -= span->pages;
    unmap_run(span);
}

template <PageRunSource P, BasicLock L, typename M>
Span* Heap<P, L, M>::map_run(void* base, size_t pages) {
    uintptr_t b = reinterpret_cast<uintptr_t>(base);
    if (!M::in_range(b, pages) || !ensure_leaves(b, pages))
        return nullptr;
    Span* span = alloc_meta();
    if (!span)
        return nullptr;
    *span = Span{};
    span->base = b;
    span->pages = static_cast<uint32_t>(pages);
    map_.set(b, pages, span);
    return span;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::unmap_run(Span* span) {
    map_.set(span->base, span->pages, nullptr);
    pages_->free_pages(reinterpret_cast<void*>(span->base), span->pages);
    pages_returned_ += span->pages;
    span->next = free_meta_;
    free_meta_ = span;
}

template <PageRunSource P, BasicLock L, typename M>
bool Heap<P, L, M>::ensure_leaves(uintptr_t base, size_t pages) {
    const uintptr_t leaf_span = uintptr_t{1} << (M::kLeafBits + kPageShift);
    uintptr_t last = base + pages * kPageSize - 1;
    for (uintptr_t a = base & ~(leaf_span - 1); a <= last; a += leaf_span) {
        if (map_.has_leaf(a))
            continue;
        Result<void*> leaf = allocate_meta(*pages_, M::kLeafBytes / kPageSize);
        if (!leaf.ok())
            return false;
        meta_pages_ += M::kLeafBytes / kPageSize;
        map_.install_leaf(a, leaf.value());
    }
    return true;
}

template <PageRunSource P, BasicLock L, typename M>
Span* Heap<P, L, M>::alloc_meta() {
    if (!free_meta_) {
        constexpr size_t kChunkPages = 16;
        Result<void*> chunk = allocate_meta(*pages_, kChunkPages);
        if (!chunk.ok())
            return nullptr;
        meta_pages_ += kChunkPages;
        Span* spans = static_cast<Span*>(chunk.value());
        for (size_t i = 0; i < kChunkPages * kPageSize / sizeof(Span); ++i) {
            spans[i].next = free_meta_;
            free_meta_ = &spans[i];
        }
    }
    Span* span = free_meta_;
    free_meta_ = span->next;
    return span;
}

template <PageRunSource P, BasicLock L, typename M>
void* Heap<P, L, M>::allocate_large(size_t size, size_t align) {
    if (size > (size_t{1} << 46) || align > (size_t{1} << 40))
        return nullptr;
    if (align < kPageSize)
        align = kPageSize;
    size_t pages = size == 0 ? 1 : (size + kPageSize - 1) / kPageSize;
    LockGuard guard(page_lock_);
    Result<void*> run = pages_->allocate_pages(pages, align);
    if (!run.ok())
        return nullptr;
    Span* span = map_run(run.value(), pages);
    if (!span) {
        pages_->free_pages(run.value(), pages);
        return nullptr;
    }
    span->cls = kLargeClass;
    span->objects = 1;
    span->used = 1;
    large_blocks_++;
    large_pages_ += pages;
    return run.value();
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::free_large(void* pointer) {
    page_lock_.lock();
    // Looked up again under the lock: a concurrent double free of the same block finds it gone.
    Span* span = map_.lookup(pointer);
    if (!span || span->cls != kLargeClass || span->base != reinterpret_cast<uintptr_t>(pointer)) {
        page_lock_.unlock();
        report(span ? HeapError::InteriorPointer : HeapError::ForeignPointer, pointer);
        return;
    }
    large_blocks_--;
    large_pages_ -= span->pages;
    unmap_run(span);
    page_lock_.unlock();
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::trim() {
    for (unsigned cls = 0; cls < kClasses; ++cls) {
        Central& c = central_[cls];
        LockGuard guard(c.lock);
        while (c.partial.tail && c.partial.tail->used == 0) {
            Span* span = c.partial.tail;
            c.partial.remove(span);
            c.empty--;
            c.spans--;
            release_span(c, span);
        }
    }
}

template <PageRunSource P, BasicLock L, typename M>
typename Heap<P, L, M>::Stats Heap<P, L, M>::stats() {
    Stats s{};
    for (unsigned cls = 0; cls < kClasses; ++cls) {
        Central& c = central_[cls];
        LockGuard guard(c.lock);
        s.classes[cls] = {class_size(cls), c.spans, c.empty, c.out};
    }
    LockGuard guard(page_lock_);
    s.large_blocks = large_blocks_;
    s.large_pages = large_pages_;
    s.span_pages = span_pages_;
    s.meta_pages = meta_pages_;
    s.pages_returned = pages_returned_;
    return s;
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::lock_all() {
    for (unsigned cls = 0; cls < kClasses; ++cls)
        central_[cls].lock.lock();
    page_lock_.lock();
}

template <PageRunSource P, BasicLock L, typename M>
void Heap<P, L, M>::unlock_all() {
    page_lock_.unlock();
    for (unsigned cls = kClasses; cls-- > 0;)
        central_[cls].lock.unlock();
}

} // namespace exo::alloc
