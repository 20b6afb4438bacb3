"""Bug-free: a multiprocessing Pool maps a function, then stays open and idle."""
import multiprocessing
import time


def square(n: int) -> int:
    return n * n


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    with multiprocessing.Pool(3) as pool:
        print(sum(pool.map(square, range(10000))), flush=True)
        time.sleep(2.5)
