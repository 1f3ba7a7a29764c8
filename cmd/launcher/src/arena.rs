//! The launcher's memory: it lives for a few milliseconds before it execs, so its
//! allocations come from a static arena and are never given back (no `mmap`/`munmap`
//! round trips through the C library's allocator); requests the arena cannot hold go to
//! the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes served from the process's arena (it lives in `.bss`: no file size, pages
/// touched on use).
const ARENA_SIZE: usize = 1 << 20;

/// `N` bytes handed out front to back, never taken back.
#[repr(C, align(4096))]
struct Arena<const N: usize> {
    /// The memory.
    bytes: UnsafeCell<[u8; N]>,
    /// Offset of the first free byte.
    next: AtomicUsize,
}

// SAFETY: every byte is handed out at most once, through the atomic `next`.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    const fn new() -> Self {
        Arena {
            bytes: UnsafeCell::new([0; N]),
            next: AtomicUsize::new(0),
        }
    }

    /// A block for `layout` that no other call returned, or `None` when the rest of
    /// the arena cannot hold it. The pointer is derived from the arena's own, so it
    /// carries the arena's provenance; addresses are only compared and aligned.
    fn alloc(&self, layout: Layout) -> Option<*mut u8> {
        let base = self.bytes.get().cast::<u8>();
        let mut next = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base.addr() + next).next_multiple_of(layout.align()) - base.addr();
            let end = start.checked_add(layout.size()).filter(|&end| end <= N)?;
            match self
                .next
                .compare_exchange_weak(next, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Some(base.wrapping_add(start)),
                Err(now) => next = now,
            }
        }
    }

    /// Whether `ptr` points into the arena.
    fn contains(&self, ptr: *mut u8) -> bool {
        let base = self.bytes.get().addr();
        (base..base + N).contains(&ptr.addr())
    }
}

/// The process's arena.
static ARENA: Arena<ARENA_SIZE> = Arena::new();

/// A bump allocator over [`ARENA`], falling back to [`System`].
pub(crate) struct ArenaAlloc;

// SAFETY: arena blocks never overlap (`next` only grows), are aligned as requested,
// and are never freed; everything else is the system allocator's.
unsafe impl GlobalAlloc for ArenaAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match ARENA.alloc(layout) {
            Some(block) => block,
            // SAFETY: the caller's layout contract carries over.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !ARENA.contains(ptr) {
            // SAFETY: not an arena block, so the system allocator made it.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_disjoint_blocks_until_full() {
        let arena = Arena::<256>::new();
        let small = Layout::from_size_align(3, 1).unwrap();
        let wide = Layout::from_size_align(64, 64).unwrap();
        let p = arena.alloc(small).unwrap();
        let q = arena.alloc(wide).unwrap();
        assert!(arena.contains(p) && arena.contains(q));
        assert_eq!(q.addr() % 64, 0);
        assert!(q.addr() >= p.addr() + 3);
        // The arena is 4096-aligned: the block at 64 ends at 128, the next at 192.
        let r = arena.alloc(wide).unwrap();
        assert_eq!(r.addr(), q.addr() + 64);
        let last = arena.alloc(wide).unwrap();
        assert_eq!(last.addr() + 64, arena.bytes.get().addr() + 256);
        assert_eq!(arena.alloc(small), None, "full");
        assert!(!arena.contains(last.wrapping_add(64)));
        // The blocks are usable memory.
        // SAFETY: `p` is a 3-byte block of `arena`, which is alive.
        unsafe { p.write_bytes(7, 3) };
        // SAFETY: as above.
        assert_eq!(unsafe { p.add(2).read() }, 7);
    }

    #[test]
    fn requests_the_arena_cannot_hold_go_to_the_system() {
        let huge = Layout::from_size_align(ARENA_SIZE + 1, 8).unwrap();
        // SAFETY: non-zero size; the block is freed with its own layout.
        unsafe {
            let h = ArenaAlloc.alloc(huge);
            assert!(!h.is_null() && !ARENA.contains(h));
            ArenaAlloc.dealloc(h, huge);
        }
    }
}
