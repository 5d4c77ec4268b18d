// memsrv's allocator of page ranges inside one client's heap window (portable: the host tests
// check it against a model). First fit over a sorted array of free ranges, merged with their
// neighbours, then the untouched top of the window. With no room for another free range the
// pages are lost to the window until the client leaves (only addresses: memsrv has told the
// client to unmap their frames already).
#pragma once

#include <stdint.h>

namespace memsrv {

template <uint64_t Pages, uint32_t MaxRanges = 256>
class WindowSpace {
public:
    // The first page of `pages` free pages aligned to `align_pages` (a power of two), or -1.
    int64_t allocate(uint64_t pages, uint64_t align_pages) {
        if (pages == 0 || pages > Pages || align_pages == 0 || (align_pages & (align_pages - 1)))
            return -1;
        for (uint32_t i = 0; i < count_; ++i) {
            Range& r = ranges_[i];
            uint64_t first = align_up(r.first, align_pages);
            if (first + pages > r.first + r.pages)
                continue;
            uint64_t before = first - r.first, after = r.first + r.pages - (first + pages);
            if (before == 0 && after == 0) {
                remove(i);
            } else if (before == 0) {
                r = {first + pages, after};
            } else if (after == 0) {
                r.pages = before;
            } else if (count_ < MaxRanges) {
                r.pages = before;
                insert(i + 1, {first + pages, after});
            } else {
                continue; // splitting it would need a range we have no room for
            }
            return int64_t(first);
        }
        uint64_t first = align_up(top_, align_pages);
        if (first + pages > Pages)
            return -1;
        if (first > top_)
            free(top_, first - top_);
        top_ = first + pages;
        return int64_t(first);
    }

    // Gives back a range allocate() returned (or part of one).
    void free(uint64_t first, uint64_t pages) {
        if (pages == 0)
            return;
        if (first + pages == top_) {
            top_ = first;
            while (count_ && ranges_[count_ - 1].first + ranges_[count_ - 1].pages == top_)
                top_ = ranges_[--count_].first;
            return;
        }
        uint32_t i = 0;
        while (i < count_ && ranges_[i].first < first)
            ++i;
        bool joins_prev = i > 0 && ranges_[i - 1].first + ranges_[i - 1].pages == first;
        bool joins_next = i < count_ && first + pages == ranges_[i].first;
        if (joins_prev && joins_next) {
            ranges_[i - 1].pages += pages + ranges_[i].pages;
            remove(i);
        } else if (joins_prev) {
            ranges_[i - 1].pages += pages;
        } else if (joins_next) {
            ranges_[i] = {first, pages + ranges_[i].pages};
        } else if (count_ < MaxRanges) {
            insert(i, {first, pages});
        } else {
            ++lost_;
        }
    }

    void reset() { *this = WindowSpace{}; }
    uint64_t top() const { return top_; }
    uint32_t ranges() const { return count_; }
    uint64_t lost() const { return lost_; } // frees that found no room

private:
    struct Range {
        uint64_t first, pages;
    };
    static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
    void remove(uint32_t i) {
        for (uint32_t j = i + 1; j < count_; ++j)
            ranges_[j - 1] = ranges_[j];
        --count_;
    }
    void insert(uint32_t i, Range r) {
        for (uint32_t j = count_; j > i; --j)
            ranges_[j] = ranges_[j - 1];
        ranges_[i] = r;
        ++count_;
    }

    Range ranges_[MaxRanges] = {};
    uint32_t count_ = 0;
    uint64_t top_ = 0;
    uint64_t lost_ = 0;
};

} // namespace memsrv
