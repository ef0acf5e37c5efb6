;; The SIMD kernels of src/tensor/simd.ts, in WebAssembly text: the source. `npm run kernels`
;; compiles it with wabt (a devDependency) into kernels.wasm.ts (the committed binary, base64);
;; test/wasmKernels.test.ts checks that the two agree. 128-bit SIMD; every pointer is a byte
;; offset into the imported memory (tfjs-wasm's heap, or a kv-cache's own memory), f32 data.
;; Loops are `block $Bn (loop $Ln … br_if $Bn … br $Ln)`: for (x = 0; x < limit; x += step).
(module
  (type $t0 (func (param i32 i32 i32 i32 i32 i32 i32 f32)))
  (type $t1 (func (param i32 i32 i32 i32 i32 i32 i32)))
  (type $t2 (func (param i32 i32 i32 i32)))
  (type $t3 (func (param i32 i32 i32 i32 i32 i32 f32)))
  (import "env" "memory" (memory $memory 1))
  ;; scores(K, Q, S, rows, hd, maxLen, len, scale): S[r·len + l] = scale · Q[r]·K[r, l]
  ;; K [rows, maxLen, hd], Q [rows, hd], S [rows, len]; all byte offsets into memory, f32.
  ;; d walks a row in bytes, 16 (four lanes) at a time: hd % 4 = 0.
  (func $scores (export "scores") (type $t0)
      (param $K i32)
      (param $Q i32)
      (param $S i32)
      (param $rows i32)
      (param $hd i32)
      (param $maxLen i32)
      (param $len i32)
      (param $scale f32)
    (local $r i32)
    (local $l i32)
    (local $d i32)
    (local $qo i32)
    (local $kb i32)
    (local $ko i32)
    (local $so i32)
    (local $acc v128)
    i32.const 0
    local.set $r
    block $B0
      loop $L1
        local.get $r
        local.get $rows
        i32.ge_u
        br_if $B0
        local.get $Q
        local.get $r
        local.get $hd
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $qo
        local.get $K
        local.get $r
        local.get $maxLen
        i32.mul
        local.get $hd
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $kb
        local.get $S
        local.get $r
        local.get $len
        i32.mul
        i32.const 4
        i32.mul
        i32.add
        local.set $so
        i32.const 0
        local.set $l
        block $B2
          loop $L3
            local.get $l
            local.get $len
            i32.ge_u
            br_if $B2
            local.get $kb
            local.get $l
            local.get $hd
            i32.const 4
            i32.mul
            i32.mul
            i32.add
            local.set $ko
            v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
            local.set $acc
            i32.const 0
            local.set $d
            block $B4
              loop $L5
                local.get $d
                local.get $hd
                i32.const 4
                i32.mul
                i32.ge_u
                br_if $B4
                local.get $acc
                local.get $qo
                local.get $d
                i32.add
                v128.load align=1
                local.get $ko
                local.get $d
                i32.add
                v128.load align=1
                f32x4.mul
                f32x4.add
                local.set $acc
                local.get $d
                i32.const 16
                i32.add
                local.set $d
                br $L5
              end
            end
            local.get $so
            local.get $l
            i32.const 4
            i32.mul
            i32.add
            local.get $acc
            f32x4.extract_lane 0
            local.get $acc
            f32x4.extract_lane 1
            f32.add
            local.get $acc
            f32x4.extract_lane 2
            f32.add
            local.get $acc
            f32x4.extract_lane 3
            f32.add
            local.get $scale
            f32.mul
            f32.store
            local.get $l
            i32.const 1
            i32.add
            local.set $l
            br $L3
          end
        end
        local.get $r
        i32.const 1
        i32.add
        local.set $r
        br $L1
      end
    end)
  ;; mix(V, P, O, rows, hd, maxLen, len): O[r] = Σ_l P[r·len + l] · V[r, l]
  ;; V [rows, maxLen, hd], P [rows, len] (softmaxed scores), O [rows, hd].
  (func $mix (export "mix") (type $t1)
      (param $V i32)
      (param $P i32)
      (param $O i32)
      (param $rows i32)
      (param $hd i32)
      (param $maxLen i32)
      (param $len i32)
    (local $r i32)
    (local $l i32)
    (local $d i32)
    (local $vb i32)
    (local $po i32)
    (local $oo i32)
    (local $vo i32)
    (local $acc v128)
    i32.const 0
    local.set $r
    block $B0
      loop $L1
        local.get $r
        local.get $rows
        i32.ge_u
        br_if $B0
        local.get $V
        local.get $r
        local.get $maxLen
        i32.mul
        local.get $hd
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $vb
        local.get $P
        local.get $r
        local.get $len
        i32.mul
        i32.const 4
        i32.mul
        i32.add
        local.set $po
        local.get $O
        local.get $r
        local.get $hd
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $oo
        i32.const 0
        local.set $d
        block $B2
          loop $L3
            local.get $d
            local.get $hd
            i32.const 4
            i32.mul
            i32.ge_u
            br_if $B2
            v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
            local.set $acc
            local.get $vb
            local.get $d
            i32.add
            local.set $vo
            i32.const 0
            local.set $l
            block $B4
              loop $L5
                local.get $l
                local.get $len
                i32.ge_u
                br_if $B4
                local.get $acc
                local.get $po
                local.get $l
                i32.const 4
                i32.mul
                i32.add
                f32.load
                f32x4.splat
                local.get $vo
                v128.load align=1
                f32x4.mul
                f32x4.add
                local.set $acc
                local.get $vo
                local.get $hd
                i32.const 4
                i32.mul
                i32.add
                local.set $vo
                local.get $l
                i32.const 1
                i32.add
                local.set $l
                br $L5
              end
            end
            local.get $oo
            local.get $d
            i32.add
            local.get $acc
            v128.store align=1
            local.get $d
            i32.const 16
            i32.add
            local.set $d
            br $L3
          end
        end
        local.get $r
        i32.const 1
        i32.add
        local.set $r
        br $L1
      end
    end)
  ;; colsum(X, O, n, m): O[j] += Σ_i X[i, j] for X [n, m] (m % 4 = 0; O zeroed by the caller).
  (func $colsum (export "colsum") (type $t2)
      (param $X i32)
      (param $O i32)
      (param $n i32)
      (param $m i32)
    (local $i i32)
    (local $j i32)
    (local $xo i32)
    i32.const 0
    local.set $i
    block $B0
      loop $L1
        local.get $i
        local.get $n
        i32.ge_u
        br_if $B0
        local.get $X
        local.get $i
        local.get $m
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $xo
        i32.const 0
        local.set $j
        block $B2
          loop $L3
            local.get $j
            local.get $m
            i32.const 4
            i32.mul
            i32.ge_u
            br_if $B2
            local.get $O
            local.get $j
            i32.add
            local.get $O
            local.get $j
            i32.add
            v128.load align=1
            local.get $xo
            local.get $j
            i32.add
            v128.load align=1
            f32x4.add
            v128.store align=1
            local.get $j
            i32.const 16
            i32.add
            local.set $j
            br $L3
          end
        end
        local.get $i
        i32.const 1
        i32.add
        local.set $i
        br $L1
      end
    end)
  ;; layerNorm(X, G, B, O, rows, D, eps): O[r] = (X[r] − mean) / sqrt(var + eps) · G + B per row
  ;; (D % 4 = 0); X and O [rows, D], G and B [D].
  (func $layerNorm (export "layerNorm") (type $t3)
      (param $X i32)
      (param $G i32)
      (param $B i32)
      (param $O i32)
      (param $rows i32)
      (param $D i32)
      (param $eps f32)
    (local $r i32)
    (local $j i32)
    (local $xo i32)
    (local $oo i32)
    (local $acc v128)
    (local $mean f32)
    (local $rs f32)
    (local $mv v128)
    (local $rv v128)
    i32.const 0
    local.set $r
    block $B0
      loop $L1
        local.get $r
        local.get $rows
        i32.ge_u
        br_if $B0
        local.get $X
        local.get $r
        local.get $D
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $xo
        local.get $O
        local.get $r
        local.get $D
        i32.const 4
        i32.mul
        i32.mul
        i32.add
        local.set $oo
        v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
        local.set $acc
        i32.const 0
        local.set $j
        block $B2
          loop $L3
            local.get $j
            local.get $D
            i32.const 4
            i32.mul
            i32.ge_u
            br_if $B2
            local.get $acc
            local.get $xo
            local.get $j
            i32.add
            v128.load align=1
            f32x4.add
            local.set $acc
            local.get $j
            i32.const 16
            i32.add
            local.set $j
            br $L3
          end
        end
        local.get $acc
        f32x4.extract_lane 0
        local.get $acc
        f32x4.extract_lane 1
        f32.add
        local.get $acc
        f32x4.extract_lane 2
        f32.add
        local.get $acc
        f32x4.extract_lane 3
        f32.add
        local.get $D
        f32.convert_i32_u
        f32.div
        local.set $mean
        local.get $mean
        f32x4.splat
        local.set $mv
        v128.const i32x4 0x00000000 0x00000000 0x00000000 0x00000000
        local.set $acc
        i32.const 0
        local.set $j
        block $B4
          loop $L5
            local.get $j
            local.get $D
            i32.const 4
            i32.mul
            i32.ge_u
            br_if $B4
            local.get $xo
            local.get $j
            i32.add
            v128.load align=1
            local.get $mv
            f32x4.sub
            local.set $rv
            local.get $acc
            local.get $rv
            local.get $rv
            f32x4.mul
            f32x4.add
            local.set $acc
            local.get $j
            i32.const 16
            i32.add
            local.set $j
            br $L5
          end
        end
        f32.const 0x1p+0 (;=1;)
        local.get $acc
        f32x4.extract_lane 0
        local.get $acc
        f32x4.extract_lane 1
        f32.add
        local.get $acc
        f32x4.extract_lane 2
        f32.add
        local.get $acc
        f32x4.extract_lane 3
        f32.add
        local.get $D
        f32.convert_i32_u
        f32.div
        local.get $eps
        f32.add
        f32.sqrt
        f32.div
        local.set $rs
        local.get $rs
        f32x4.splat
        local.set $rv
        i32.const 0
        local.set $j
        block $B6
          loop $L7
            local.get $j
            local.get $D
            i32.const 4
            i32.mul
            i32.ge_u
            br_if $B6
            local.get $oo
            local.get $j
            i32.add
            local.get $xo
            local.get $j
            i32.add
            v128.load align=1
            local.get $mv
            f32x4.sub
            local.get $rv
            f32x4.mul
            local.get $G
            local.get $j
            i32.add
            v128.load align=1
            f32x4.mul
            local.get $B
            local.get $j
            i32.add
            v128.load align=1
            f32x4.add
            v128.store align=1
            local.get $j
            i32.const 16
            i32.add
            local.set $j
            br $L7
          end
        end
        local.get $r
        i32.const 1
        i32.add
        local.set $r
        br $L1
      end
    end))

