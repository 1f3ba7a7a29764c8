//! The launcher's memory: it lives for a few milliseconds before it execs, so its
//! allocations come from a static arena and are never given back (no `mmap`/`munmap`
//! round trips through the C library's allocator); requests the arena cannot hold go to
//! the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes served from the arena (it lives in `.bss`: no file size, pages touched on use).
const ARENA_SIZE: usize = 1 << 20;

#[repr(C, align(4096))]
struct Arena(UnsafeCell<[u8; ARENA_SIZE]>);

// SAFETY: every byte is handed out at most once, through the atomic `NEXT` below.
unsafe impl Sync for Arena {}

static ARENA: Arena = Arena(UnsafeCell::new([0; ARENA_SIZE]));
/// Offset of the first free byte.
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A bump allocator over [`ARENA`], falling back to [`System`].
pub(crate) struct ArenaAlloc;

fn in_arena(ptr: *mut u8) -> bool {
    let base = ARENA.0.get() as usize;
    (base..base + ARENA_SIZE).contains(&(ptr as usize))
}

// SAFETY: arena blocks never overlap (NEXT only grows), are aligned as requested, and
// are never freed; everything else is the system allocator's.
unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = ARENA.0.get() as usize;
        let mut next = NEXT.load(Ordering::Relaxed);
        loop {
            let start = (base + next).next_multiple_of(layout.align()) - base;
            let end = start.saturating_add(layout.size());
            if end > ARENA_SIZE {
                // SAFETY: the caller's layout contract carries over.
                return unsafe { System.alloc(layout) };
            }
            match NEXT.compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => next = now,
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !in_arena(ptr) {
            // SAFETY: not an arena block, so the system allocator made it.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_disjoint_blocks_with_a_fallback() {
        let a = ArenaAlloc;
        let small = Layout::from_size_align(3, 1).unwrap();
        let wide = Layout::from_size_align(64, 64).unwrap();
        let huge = Layout::from_size_align(ARENA_SIZE + 1, 8).unwrap();
        // SAFETY: non-zero sizes; every block is freed with its own layout.
        unsafe {
            let p = a.alloc(small);
            let q = a.alloc(wide);
            assert!(in_arena(p) && in_arena(q));
            assert_eq!(q as usize % 64, 0);
            assert!(q as usize >= p as usize + 3 || q as usize + 64 <= p as usize);
            let h = a.alloc(huge);
            assert!(!h.is_null() && !in_arena(h));
            a.dealloc(h, huge);
            a.dealloc(q, wide);
            a.dealloc(p, small);
        }
    }
}
